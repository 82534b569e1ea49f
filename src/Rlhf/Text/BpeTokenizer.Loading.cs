// Loading a BpeTokenizer from Hugging Face files: vocab.json + merges.txt, tokenizer.json, tokenizer_config.json.
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Text.Pipeline;

namespace Rlhf.Text;

internal sealed partial class BpeTokenizer
{
    /// <summary>GPT-2's end-of-text token, the default eos/bos/unk token when no configuration names one.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>
    /// Loads a Hugging Face tokenizer folder: tokenizer.json when present, else vocab.json + merges.txt (plus
    /// added_tokens.json). Special tokens come from tokenizer_config.json (eos/bos/unk/pad_token, added_tokens_decoder,
    /// model_max_length), then special_tokens_map.json. eos/bos/unk that no file mentions default to
    /// <see cref="EndOfText"/> when the vocabulary has it (GPT2Tokenizer's defaults).
    /// </summary>
    public static BpeTokenizer FromFolder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"tokenizer folder '{directory}' does not exist");

        string tokenizerJson = Path.Combine(directory, "tokenizer.json");
        string vocabJson = Path.Combine(directory, "vocab.json");
        string mergesTxt = Path.Combine(directory, "merges.txt");
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        string mapPath = Path.Combine(directory, "special_tokens_map.json");

        var specialNames = new Dictionary<string, string?>();
        var extraAdded = new List<AddedToken>();
        int modelMaxLength = 1024;
        bool cleanUp = false;
        bool? addBos = null, addEos = null;
        string? tokenizerClass = null;
        JsonObject? sourceConfig = null;
        if (File.Exists(mapPath))
        {
            using var map = ReadJson(mapPath);
            ReadSpecialTokenNames(mapPath, map, specialNames, overwrite: false);
        }
        if (File.Exists(configPath))
        {
            using var config = ReadJson(configPath);
            ReadSpecialTokenNames(configPath, config, specialNames, overwrite: true);
            sourceConfig = JsonNode.Parse(config.RootElement.GetRawText()) as JsonObject;
            var configRoot = config.RootElement;
            cleanUp = configRoot.TryGetProperty("clean_up_tokenization_spaces", out var clean) && clean.ValueKind == JsonValueKind.True;
            addBos = configRoot.TryGetProperty("add_bos_token", out var bos) && bos.ValueKind is JsonValueKind.True or JsonValueKind.False ? bos.GetBoolean() : null;
            addEos = configRoot.TryGetProperty("add_eos_token", out var eos) && eos.ValueKind is JsonValueKind.True or JsonValueKind.False ? eos.GetBoolean() : null;
            tokenizerClass = configRoot.TryGetProperty("tokenizer_class", out var cls) && cls.ValueKind == JsonValueKind.String ? cls.GetString() : null;
            if (config.RootElement.TryGetProperty("model_max_length", out var max) && max.ValueKind != JsonValueKind.Null)
                modelMaxLength = ReadModelMaxLength(configPath, max);
            if (config.RootElement.TryGetProperty("added_tokens_decoder", out var decoder))
            {
                if (decoder.ValueKind != JsonValueKind.Object) throw new ModelFormatException(configPath, "added_tokens_decoder must be an object");
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (!int.TryParse(entry.Name, out int id)) throw new ModelFormatException(configPath, $"added_tokens_decoder key '{JsonText.Clip(entry.Name)}' is not an id");
                    extraAdded.Add(ReadAddedToken(configPath, entry.Value, id, $"added_tokens_decoder[{entry.Name}]"));
                }
            }
        }

        BpeTokenizer tokenizer;
        if (File.Exists(tokenizerJson))
        {
            tokenizer = FromTokenizerJsonCore(tokenizerJson, extraAdded);
        }
        else if (File.Exists(vocabJson) || File.Exists(mergesTxt))
        {
            string addedJson = Path.Combine(directory, "added_tokens.json");
            if (File.Exists(addedJson))
            {
                using var doc = ReadJson(addedJson);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException(addedJson, "expected an object of token: id");
                foreach (var entry in doc.RootElement.EnumerateObject())
                {
                    if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id)) throw new ModelFormatException(addedJson, $"id of '{JsonText.Clip(entry.Name)}' is not an integer");
                    extraAdded.Add(new AddedToken(id, entry.Name, Special: false));
                }
            }
            tokenizer = FromFilesCore(vocabJson, mergesTxt, extraAdded);
        }
        else if (File.Exists(Path.Combine(directory, "tokenizer.model")))
        {
            throw new ModelFormatException(Path.Combine(directory, "tokenizer.model"),
                "a SentencePiece model alone is not read; bring the tokenizer.json transformers writes for it "
                + "(AutoTokenizer.from_pretrained(folder).save_pretrained(folder), or the model repository's own tokenizer.json)");
        }
        else
        {
            throw new ModelFormatException(tokenizerJson, "missing: the folder has neither tokenizer.json nor vocab.json + merges.txt");
        }

        string? Resolve(string key, bool gpt2Default)
        {
            if (specialNames.TryGetValue(key, out string? named))
            {
                if (named is not null && !tokenizer.tokenToId.ContainsKey(named))
                {
                    throw new ModelFormatException(File.Exists(configPath) ? configPath : mapPath,
                        $"{key} '{JsonText.Clip(named)}' is not in the vocabulary");
                }
                return named;
            }
            return gpt2Default && tokenizer.tokenToId.ContainsKey(EndOfText) ? EndOfText : null;
        }
        bool gpt2Defaults = tokenizer.IsGpt2Pipeline;
        string? unk = Resolve("unk_token", gpt2Defaults) ?? tokenizer.pipeline.UnknownToken;
        var specials = new SpecialTokens(Resolve("eos_token", gpt2Defaults), Resolve("bos_token", gpt2Defaults), unk, Resolve("pad_token", false));
        var result = tokenizer.WithSpecialTokens(specials);
        var pipeline = result.pipeline;
        // LlamaTokenizerFast and its kin rebuild the post-processor from add_bos_token / add_eos_token (transformers'
        // update_post_processor); other classes use tokenizer.json's as written.
        if (tokenizerClass is not null && LlamaLikeClasses.Contains(tokenizerClass.Replace("Fast", "", StringComparison.Ordinal)) && (addBos ?? addEos) is not null)
        {
            int? bosId = result.BosTokenId, eosId = result.EosTokenId;
            pipeline = pipeline with
            {
                PrefixIds = (addBos ?? true) && bosId is int b ? [b] : [],
                SuffixIds = (addEos ?? false) && eosId is int e ? [e] : [],
            };
        }
        return new BpeTokenizer(result, result.Specials, pipeline)
        {
            ModelMaxLength = modelMaxLength, CleanUpTokenizationSpaces = cleanUp, SourceConfig = sourceConfig,
        };
    }

    /// <summary>
    /// Loads GPT-2's vocab.json (token → id) and merges.txt (optional "#version" line, then one "left right" merge a
    /// line, in rank order). <see cref="EndOfText"/>, when in the vocabulary, becomes the special eos/bos/unk token.
    /// </summary>
    public static BpeTokenizer FromFiles(string vocabJsonPath, string mergesTxtPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabJsonPath);
        ArgumentException.ThrowIfNullOrEmpty(mergesTxtPath);
        var tokenizer = FromFilesCore(vocabJsonPath, mergesTxtPath, []);
        return tokenizer.tokenToId.ContainsKey(EndOfText)
            ? tokenizer.WithSpecialTokens(new SpecialTokens(EndOfText, EndOfText, EndOfText, null))
            : tokenizer;
    }

    /// <summary>
    /// Loads a Hugging Face tokenizers file (tokenizer.json) whose model is byte-level BPE: model.vocab, model.merges
    /// ("a b" strings or ["a", "b"] pairs) and added_tokens. Other model types are rejected.
    /// <see cref="EndOfText"/>, when present, becomes the eos/bos/unk token.
    /// </summary>
    public static BpeTokenizer FromTokenizerJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var tokenizer = FromTokenizerJsonCore(path, []);
        return tokenizer.tokenToId.ContainsKey(EndOfText)
            ? tokenizer.WithSpecialTokens(new SpecialTokens(EndOfText, EndOfText, EndOfText, null))
            : tokenizer;
    }

    /// <summary>tokenizer_class values (without "Fast") whose post-processor follows add_bos_token / add_eos_token.</summary>
    private static readonly HashSet<string> LlamaLikeClasses = ["LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer"];

    private static BpeTokenizer FromFilesCore(string vocabJsonPath, string mergesTxtPath, List<AddedToken> added)
    {
        Dictionary<string, int> vocabulary;
        using (var doc = ReadJson(vocabJsonPath))
        {
            vocabulary = ReadVocabulary(vocabJsonPath, doc.RootElement, "vocab.json");
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines(mergesTxtPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(mergesTxtPath, $"cannot read the merges: {e.Message}", e);
        }
        var mergeList = new List<(string, string)>(lines.Length);
        var lineNumbers = new List<int>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (i == 0 && line.StartsWith("#version", StringComparison.Ordinal)) continue;
            if (line.Length == 0) continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new ModelFormatException(mergesTxtPath, $"line {i + 1}: expected two tokens separated by one space, got '{JsonText.Clip(line)}'");
            }
            mergeList.Add((parts[0], parts[1]));
            lineNumbers.Add(i + 1);
        }

        RequireMerges(mergesTxtPath, vocabulary, mergeList.Count, added);

        // The vocabulary may be fine while the merges are not: report merges.txt with the line number.
        try
        {
            return new BpeTokenizer(vocabulary, mergeList, added, mergesTxtPath, rank => $"line {lineNumbers[rank]}");
        }
        catch (ModelFormatException e) when (e.FilePath == mergesTxtPath && !e.Detail.StartsWith("line ", StringComparison.Ordinal))
        {
            throw new ModelFormatException(vocabJsonPath, e.Detail, e);
        }
    }

    private static BpeTokenizer FromTokenizerJsonCore(string path, List<AddedToken> extraAdded)
    {
        using var doc = ReadJson(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "expected a JSON object");
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException(path, "missing the \"model\" object");
        }
        string? type = model.TryGetProperty("type", out var typeElement) && typeElement.ValueKind != JsonValueKind.Null
            ? (typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : throw new ModelFormatException(path, "model.type must be a string"))
            : null;
        if (type is not null && type != "BPE")
        {
            throw new ModelFormatException(path, $"model.type \"{JsonText.Clip(type)}\" is not supported; only \"BPE\" models (byte-level or SentencePiece-style) are");
        }
        var pipeline = TokenizerJsonReader.Read(path, root, model);
        if (!model.TryGetProperty("vocab", out var vocabElement)) throw new ModelFormatException(path, "missing model.vocab");
        var vocabulary = ReadVocabulary(path, vocabElement, "model.vocab");

        if (!model.TryGetProperty("merges", out var mergesElement) || mergesElement.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException(path, "missing model.merges (an array)");
        }
        var mergeList = new List<(string, string)>(mergesElement.GetArrayLength());
        int index = 0;
        foreach (var merge in mergesElement.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                string[] parts = merge.GetString()!.Split(' ');
                if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                {
                    throw new ModelFormatException(path, $"model.merges[{index}]: expected \"left right\", got \"{JsonText.Clip(merge.GetString()!)}\"");
                }
                mergeList.Add((parts[0], parts[1]));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                mergeList.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else
            {
                throw new ModelFormatException(path, $"model.merges[{index}]: expected a \"left right\" string or a [left, right] pair");
            }
            index++;
        }

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedElement) && addedElement.ValueKind != JsonValueKind.Null)
        {
            if (addedElement.ValueKind != JsonValueKind.Array) throw new ModelFormatException(path, "added_tokens must be an array");
            int i = 0;
            foreach (var token in addedElement.EnumerateArray())
            {
                if (token.ValueKind != JsonValueKind.Object || !token.TryGetProperty("id", out var idElement)
                    || idElement.ValueKind != JsonValueKind.Number || !idElement.TryGetInt32(out int id))
                {
                    throw new ModelFormatException(path, $"added_tokens[{i}]: expected an object with an integer \"id\"");
                }
                added.Add(ReadAddedToken(path, token, id, $"added_tokens[{i}]"));
                i++;
            }
        }
        added.AddRange(extraAdded);
        RequireMerges(path, vocabulary, mergeList.Count, added);
        return new BpeTokenizer(vocabulary, mergeList, added, path, rank => $"model.merges[{rank}]", pipeline);
    }

    /// <summary>
    /// Rejects a tokenizer with no merges whose vocabulary has multi-character tokens other than added ones: an empty or
    /// truncated merges file, which would otherwise tokenize everything byte by byte. (One such token, such as GPT-2's
    /// &lt;|endoftext|&gt; before it is marked special, needs no merge.)
    /// </summary>
    private static void RequireMerges(string path, Dictionary<string, int> vocabulary, int mergeCount, List<AddedToken> added)
    {
        if (mergeCount > 0) return;
        var addedContents = added.Select(a => a.Content).ToHashSet(StringComparer.Ordinal);
        int unreachable = vocabulary.Keys.Count(token => token.Length > 1 && !addedContents.Contains(token));
        if (unreachable > 1)
            throw new ModelFormatException(path,
                $"holds no merges, but the vocabulary has {unreachable:N0} multi-character tokens that only merges produce; the merges are missing or truncated");
    }

    /// <summary>
    /// tokenizer_config.json's model_max_length: a whole number ≥ 1. transformers writes int(1e30) for "no limit",
    /// so values past int.MaxValue mean unlimited.
    /// </summary>
    private static int ReadModelMaxLength(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number) || number != Math.Floor(number) || number < 1)
            throw new ModelFormatException(path, $"model_max_length must be a whole number ≥ 1, found {JsonText.Clip(value.GetRawText())}");
        return number >= int.MaxValue ? int.MaxValue : (int)number;
    }

    private static JsonDocument ReadJson(string path)
    {
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new ModelFormatException(path, "is not valid UTF-8 text");
            var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (JsonText.FindUndecodable(document.RootElement) is { } undecodable)
            {
                document.Dispose();
                throw new ModelFormatException(path, JsonText.UndecodableMessage(undecodable));
            }
            return document;
        }
        catch (FileNotFoundException e)
        {
            throw new ModelFormatException(path, "file not found", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new ModelFormatException(path, "file not found", e);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"invalid JSON: {JsonText.Describe(e)}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the file: {e.Message}", e);
        }
    }

    private static Dictionary<string, int> ReadVocabulary(string path, JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, $"{what} must be an object of token: id");
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new ModelFormatException(path, $"{what}: id of token '{JsonText.Clip(entry.Name)}' is not a non-negative integer");
            }
            if (id > MaxTokenId)
                throw new ModelFormatException(path, $"{what}: token '{JsonText.Clip(entry.Name)}' has id {id:N0}; ids above {MaxTokenId:N0} are not supported (the file is corrupt)");
            if (!vocabulary.TryAdd(entry.Name, id)) throw new ModelFormatException(path, $"{what}: token '{JsonText.Clip(entry.Name)}' appears twice");
        }
        return vocabulary;
    }

    private static AddedToken ReadAddedToken(string path, JsonElement token, int id, string where)
    {
        if (token.ValueKind != JsonValueKind.Object
            || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
        {
            throw new ModelFormatException(path, $"{where}: expected an object with a string \"content\"");
        }
        bool Flag(string name) => token.TryGetProperty(name, out var flag) && flag.ValueKind == JsonValueKind.True;
        var added = new AddedToken(id, content.GetString()!, Flag("special")) { LStrip = Flag("lstrip"), RStrip = Flag("rstrip"), SingleWord = Flag("single_word") };
        return token.TryGetProperty("normalized", out var normalized) && normalized.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? added with { Normalized = normalized.GetBoolean() }
            : added;
    }

    /// <summary>Reads eos/bos/unk/pad_token (a string, {"content": ...} or null) into <paramref name="names"/>.</summary>
    internal static void ReadSpecialTokenNames(string path, JsonDocument doc, Dictionary<string, string?> names, bool overwrite)
    {
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "expected a JSON object");
            foreach (string key in new[] { "eos_token", "bos_token", "unk_token", "pad_token" })
            {
                if (!doc.RootElement.TryGetProperty(key, out var value)) continue;
                string? token = value.ValueKind switch
                {
                    JsonValueKind.Null => null,
                    JsonValueKind.String => value.GetString(),
                    JsonValueKind.Object when value.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
                    _ => throw new ModelFormatException(path, $"{key} must be a string, {{\"content\": ...}} or null"),
                };
                if (overwrite || !names.ContainsKey(key)) names[key] = token;
            }
        }
    }
}
