// The tokenizer.ggml.* metadata, as llama.cpp's converter writes it and its llama-vocab.cpp reads it. Two kinds:
// byte-level BPE → tokenizer.ggml.model "gpt2" with the vocabulary in byte-level form, the merges, and
// tokenizer.ggml.pre naming llama.cpp's built-in pre-tokenizer regex ("gpt-2", "smollm", "llama-bpe", "qwen2");
// SentencePiece-style BPE with byte fallback (Llama 2, TinyLlama) → "llama" with "▁" pieces, scores and token types,
// which llama.cpp tokenizes with SentencePiece's algorithm (merge the adjacent pair whose result scores highest).
using System.Text.Json.Nodes;
using Rlhf.Text;
using Rlhf.Text.Pipeline;

namespace Rlhf.Export;

/// <summary>llama.cpp's token types (llama_token_type; the same numbers as SentencePiece's).</summary>
internal enum GgufTokenType
{
    /// <summary>An ordinary vocabulary token.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>A special (control) token such as BOS or EOS.</summary>
    Control = 3,
    /// <summary>An added token that is not special: always matched in text.</summary>
    UserDefined = 4,
    /// <summary>A slot with no token (an embedding padded past the vocabulary).</summary>
    Unused = 5,
    /// <summary>A byte-fallback token "&lt;0xXX&gt;".</summary>
    Byte = 6,
}

internal static class GgufTokenizer
{
    /// <summary>tokenizer.ggml.pre for GPT-2's pre-tokenizer regex.</summary>
    public const string Gpt2PreTokenizer = "gpt-2";

    /// <summary>Llama 3's Split regex (tokenizer.json), llama.cpp's "llama-bpe" pre-tokenizer.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's Split regex: Llama 3's with single digits, llama.cpp's "qwen2" pre-tokenizer.</summary>
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>
    /// Vocabulary, types, merges or scores, and special ids for a model whose embedding has <paramref name="vocabSize"/>
    /// rows. Ordinary tokens keep their vocabulary spelling; added tokens are stored as their text, special ones as
    /// control tokens; ids the tokenizer lacks (an embedding padded past the vocabulary) become unused "[PADn]"
    /// tokens, as in the converter. add_bos_token / add_eos_token follow the post-processor (Llama: BOS first).
    /// A pipeline llama.cpp cannot reproduce is refused with an error naming the part.
    /// </summary>
    public static List<(string Key, GgufValue Value)> Metadata(BpeTokenizer tokenizer, int vocabSize, int? bosId, int? eosId, int? padId)
    {
        if (tokenizer.VocabSize > vocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens but the model's embedding only {vocabSize} rows.");
        var pipeline = tokenizer.Pipeline;
        bool sentencePiece = !pipeline.ByteLevelVocabulary;
        string? pre = sentencePiece ? CheckSentencePiece(pipeline) : PreTokenizerName(tokenizer);
        var added = tokenizer.AddedTokens.ToDictionary(t => t.Id);
        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        for (int id = 0; id < vocabSize; id++)
        {
            string? token = tokenizer.TokenOrNull(id);
            (tokens[id], types[id]) = token is null ? ($"[PAD{id}]", (int)GgufTokenType.Unused)
                : id == tokenizer.UnkTokenId && sentencePiece ? (token, (int)GgufTokenType.Unknown)
                : added.TryGetValue(id, out var a) ? (a.Content, (int)(a.Special ? GgufTokenType.Control : GgufTokenType.UserDefined))
                : sentencePiece && IsByteToken(token) ? (token, (int)GgufTokenType.Byte)
                : (token, (int)GgufTokenType.Normal);
        }
        var metadata = new List<(string Key, GgufValue Value)> { ("tokenizer.ggml.model", GgufValue.String(sentencePiece ? "llama" : "gpt2")) };
        if (pre is not null) metadata.Add(("tokenizer.ggml.pre", GgufValue.String(pre)));
        metadata.Add(("tokenizer.ggml.tokens", GgufValue.Strings(tokens)));
        if (sentencePiece) metadata.Add(("tokenizer.ggml.scores", GgufValue.Float32s(Scores(tokenizer, vocabSize))));
        metadata.Add(("tokenizer.ggml.token_type", GgufValue.Int32s(types)));
        if (!sentencePiece) metadata.Add(("tokenizer.ggml.merges", GgufValue.Strings([.. tokenizer.Merges.Select(m => $"{m.Left} {m.Right}")])));

        var prefix = tokenizer.PrefixTokenIds;
        var suffix = tokenizer.SuffixTokenIds;
        if (prefix.Count > 1 || suffix.Count > 1)
            throw new ArgumentException("tokenizer.json's post_processor adds more than one token before or after a sequence; GGUF holds only add_bos_token and add_eos_token.");
        void Id(string key, int? id)
        {
            if (id is int value && value >= 0 && value < vocabSize) metadata.Add((key, GgufValue.UInt32((uint)value)));
        }
        Id("tokenizer.ggml.bos_token_id", prefix.Count == 1 ? prefix[0] : bosId);
        Id("tokenizer.ggml.eos_token_id", suffix.Count == 1 ? suffix[0] : eosId);
        Id("tokenizer.ggml.unknown_token_id", tokenizer.UnkTokenId);
        Id("tokenizer.ggml.padding_token_id", padId);
        metadata.Add(("tokenizer.ggml.add_bos_token", GgufValue.Bool(prefix.Count == 1)));
        metadata.Add(("tokenizer.ggml.add_eos_token", GgufValue.Bool(suffix.Count == 1)));
        if (sentencePiece) metadata.Add(("tokenizer.ggml.add_space_prefix", GgufValue.Bool(true)));
        return metadata;
    }

    /// <summary>
    /// llama.cpp's name for the byte-level pre-tokenizer: GPT-2's regex ("gpt-2"); SmolLM's individual digits before
    /// GPT-2's regex ("smollm"); Llama 3's Split regex with ignore_merges ("llama-bpe"); Qwen2's ("qwen2", whose NFC
    /// normalizer llama.cpp does not apply: text already in NFC tokenizes alike).
    /// </summary>
    private static string PreTokenizerName(BpeTokenizer tokenizer)
    {
        var pipeline = tokenizer.Pipeline;
        if (pipeline.EncodesLikeGpt2) return Gpt2PreTokenizer;
        var source = pipeline.Source;
        var steps = source?["pre_tokenizer"] is JsonObject pre
            ? (Type(pre) == "Sequence" && pre["pretokenizers"] is JsonArray list ? [.. list.OfType<JsonObject>()] : new List<JsonObject> { pre })
            : [];
        string? normalizer = source?["normalizer"] is JsonObject n ? Type(n) : null;
        bool ByteLevel(JsonObject step, bool regex) => Type(step) == "ByteLevel" && Flag(step, "use_regex", true) == regex && !Flag(step, "add_prefix_space", false);
        if (!pipeline.ByteFallback && steps.Count == 2 && ByteLevel(steps[1], regex: false) && Type(steps[0]) == "Split"
            && steps[0]["pattern"]?["Regex"]?.GetValue<string>() is string pattern && steps[0]["behavior"]?.GetValue<string>() == "Isolated"
            && !Flag(steps[0], "invert", false))
        {
            if (pattern == Llama3Pattern && pipeline.IgnoreMerges && normalizer is null) return "llama-bpe";
            if (pattern == Qwen2Pattern && !pipeline.IgnoreMerges && normalizer is null or "NFC") return "qwen2";
        }
        if (!pipeline.ByteFallback && !pipeline.IgnoreMerges && normalizer is null && steps.Count == 2 && ByteLevel(steps[1], regex: true)
            && Type(steps[0]) == "Digits" && Flag(steps[0], "individual_digits", false))
            return "smollm";
        throw new ArgumentException(
            $"tokenizer.json's pre-tokenizer {source?["pre_tokenizer"]?.ToJsonString() ?? "(none)"} with normalizer {normalizer ?? "none"} has no llama.cpp "
            + "pre-tokenizer (supported: GPT-2's ByteLevel regex, SmolLM's Digits + ByteLevel, Llama 3's and Qwen2's Split regexes).");
    }

    /// <summary>SentencePiece-style BPE as llama.cpp's "llama" vocabulary runs it: a leading "▁", spaces as "▁",
    /// characters missing from the vocabulary as byte tokens. Returns null (no tokenizer.ggml.pre) or throws.</summary>
    private static string? CheckSentencePiece(TokenizerPipeline pipeline)
    {
        var source = pipeline.Source;
        var normalizer = source?["normalizer"] as JsonObject;
        var pre = source?["pre_tokenizer"] as JsonObject;
        bool legacy = normalizer is not null && pre is null && Type(normalizer) == "Sequence" && normalizer["normalizers"] is JsonArray steps
            && steps.Count == 2 && steps[0] is JsonObject prepend && Type(prepend) == "Prepend" && prepend["prepend"]?.GetValue<string>() == "▁"
            && steps[1] is JsonObject replace && Type(replace) == "Replace" && replace["pattern"]?["String"]?.GetValue<string>() == " "
            && replace["content"]?.GetValue<string>() == "▁";
        bool metaspace = normalizer is null && pre is not null && Type(pre) == "Metaspace" && pre["replacement"]?.GetValue<string>() == "▁"
            && !Flag(pre, "split", true) && (pre["prepend_scheme"]?.GetValue<string>() is "always" or "first" || Flag(pre, "add_prefix_space", false));
        if (!legacy && !metaspace)
            throw new ArgumentException("The tokenizer is neither byte-level BPE nor Llama 2's SentencePiece form (normalizer Prepend \"▁\" + Replace \" \" → \"▁\", "
                + "or a Metaspace pre-tokenizer that prepends \"▁\" without splitting); llama.cpp has no vocabulary type for it.");
        if (!pipeline.ByteFallback)
            throw new ArgumentException("The SentencePiece-style tokenizer has no byte_fallback; llama.cpp's \"llama\" vocabulary always falls back to byte tokens.");
        return null;
    }

    /// <summary>
    /// SentencePiece scores that make llama.cpp's highest-score-first merging reproduce the BPE merge order: a token
    /// made by merges scores minus the rank of the first merge making it; other tokens (characters, bytes, specials) 0.
    /// </summary>
    private static float[] Scores(BpeTokenizer tokenizer, int vocabSize)
    {
        var scores = new float[vocabSize];
        var made = new bool[vocabSize];
        var merges = tokenizer.Merges;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            if (!tokenizer.TryGetId(merges[rank].Left + merges[rank].Right, out int id) || made[id]) continue;
            made[id] = true;
            scores[id] = -rank;
        }
        return scores;
    }

    private static bool IsByteToken(string token) =>
        token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' && Uri.IsHexDigit(token[3]) && Uri.IsHexDigit(token[4]);

    private static string? Type(JsonObject node) => node["type"]?.GetValue<string>();

    private static bool Flag(JsonObject node, string name, bool absent) => node[name] is JsonValue value && value.TryGetValue(out bool flag) ? flag : absent;
}
