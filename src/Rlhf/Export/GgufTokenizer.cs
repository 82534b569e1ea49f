// The tokenizer.ggml.* metadata of a byte-level BPE tokenizer, as llama.cpp's converter writes it for "gpt2" models.
using Rlhf.Text;

namespace Rlhf.Export;

/// <summary>llama.cpp's token types (llama_token_type; the same numbers as SentencePiece's).</summary>
internal enum GgufTokenType
{
    Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
}

internal static class GgufTokenizer
{
    /// <summary>tokenizer.ggml.pre for GPT-2's pre-tokenizer regex (the only one <see cref="BpeTokenizer"/> applies).</summary>
    public const string Gpt2PreTokenizer = "gpt-2";

    /// <summary>
    /// Vocabulary, types, merges and special ids for a model whose embedding has <paramref name="vocabSize"/> rows.
    /// Ordinary tokens keep their byte-level form (llama.cpp decodes it); added tokens are stored as their text,
    /// special ones as control tokens; ids the tokenizer lacks (an embedding padded past the vocabulary) become
    /// unused "[PADn]" tokens, as in the converter. <see cref="BpeTokenizer"/> adds no BOS/EOS, so add_bos_token
    /// and add_eos_token are written false.
    /// </summary>
    public static List<(string Key, GgufValue Value)> Metadata(BpeTokenizer tokenizer, int vocabSize, int? bosId, int? eosId, int? padId)
    {
        if (tokenizer.VocabSize > vocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens but the model's embedding only {vocabSize} rows.");
        var added = tokenizer.AddedTokens.ToDictionary(t => t.Id);
        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        for (int id = 0; id < vocabSize; id++)
        {
            string? token = id < tokenizer.VocabSize ? tokenizer.IdToToken(id) : null;
            (tokens[id], types[id]) = token is null ? ($"[PAD{id}]", (int)GgufTokenType.Unused)
                : added.TryGetValue(id, out var a) ? (a.Content, (int)(a.Special ? GgufTokenType.Control : GgufTokenType.UserDefined))
                : (token, (int)GgufTokenType.Normal);
        }
        var metadata = new List<(string Key, GgufValue Value)>
        {
            ("tokenizer.ggml.model", GgufValue.String("gpt2")),
            ("tokenizer.ggml.pre", GgufValue.String(Gpt2PreTokenizer)),
            ("tokenizer.ggml.tokens", GgufValue.Strings(tokens)),
            ("tokenizer.ggml.token_type", GgufValue.Int32s(types)),
            ("tokenizer.ggml.merges", GgufValue.Strings([.. tokenizer.Merges.Select(m => $"{m.Left} {m.Right}")])),
        };
        void Id(string key, int? id)
        {
            if (id is int value && value >= 0 && value < vocabSize) metadata.Add((key, GgufValue.UInt32((uint)value)));
        }
        Id("tokenizer.ggml.bos_token_id", bosId);
        Id("tokenizer.ggml.eos_token_id", eosId);
        Id("tokenizer.ggml.unknown_token_id", tokenizer.UnkTokenId);
        Id("tokenizer.ggml.padding_token_id", padId);
        metadata.Add(("tokenizer.ggml.add_bos_token", GgufValue.Bool(false)));
        metadata.Add(("tokenizer.ggml.add_eos_token", GgufValue.Bool(false)));
        return metadata;
    }
}
