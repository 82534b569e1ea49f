// Loading a BpeTokenizer from Hugging Face files: vocab.json + merges.txt, tokenizer.json, tokenizer_config.json.
using System.Text.Json;
using Rlhf.Models;

namespace Rlhf.Text;

public sealed partial class BpeTokenizer
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
        if (File.Exists(mapPath))
        {
            using var map = ReadJson(mapPath);
            ReadSpecialTokenNames(mapPath, map, specialNames, overwrite: false);
        }
        if (File.Exists(configPath))
        {
            using var config = ReadJson(configPath);
            ReadSpecialTokenNames(configPath, config, specialNames, overwrite: true);
            if (config.RootElement.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number)
            {
                double value = max.GetDouble();
                modelMaxLength = value >= int.MaxValue || value < 1 ? int.MaxValue : (int)value;
            }
            if (config.RootElement.TryGetProperty("added_tokens_decoder", out var decoder))
            {
                if (decoder.ValueKind != JsonValueKind.Object) throw new ModelFormatException(configPath, "added_tokens_decoder must be an object");
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (!int.TryParse(entry.Name, out int id)) throw new ModelFormatException(configPath, $"added_tokens_decoder key '{entry.Name}' is not an id");
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
                    if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id)) throw new ModelFormatException(addedJson, $"id of '{entry.Name}' is not an integer");
                    extraAdded.Add(new AddedToken(id, entry.Name, Special: false));
                }
            }
            tokenizer = FromFilesCore(vocabJson, mergesTxt, extraAdded);
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
                        $"{key} '{named}' is not in the vocabulary");
                }
                return named;
            }
            return gpt2Default && tokenizer.tokenToId.ContainsKey(EndOfText) ? EndOfText : null;
        }
        var specials = new SpecialTokens(Resolve("eos_token", true), Resolve("bos_token", true), Resolve("unk_token", true),
            Resolve("pad_token", false));
        return tokenizer.WithSpecialTokens(specials).WithModelMaxLength(modelMaxLength);
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
                throw new ModelFormatException(mergesTxtPath, $"line {i + 1}: expected two tokens separated by one space, got '{line}'");
            }
            mergeList.Add((parts[0], parts[1]));
            lineNumbers.Add(i + 1);
        }

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
        string? type = model.TryGetProperty("type", out var typeElement) ? typeElement.GetString() : null;
        if (type is not null && type != "BPE")
        {
            throw new ModelFormatException(path, $"model.type is \"{type}\"; only byte-level \"BPE\" models are supported");
        }
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
            {
                throw new ModelFormatException(path, $"model.{affix} is set; only GPT-2 style byte-level BPE is supported");
            }
        }
        if (model.TryGetProperty("byte_fallback", out var byteFallback) && byteFallback.ValueKind == JsonValueKind.True)
        {
            throw new ModelFormatException(path, "model.byte_fallback is set; only GPT-2 style byte-level BPE is supported");
        }
        CheckGpt2Pipeline(path, root);
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
                    throw new ModelFormatException(path, $"model.merges[{index}]: expected \"left right\", got \"{merge.GetString()}\"");
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
        return new BpeTokenizer(vocabulary, mergeList, added, path, rank => $"model.merges[{rank}]");
    }

    /// <summary>Rejects pipelines this tokenizer would silently get wrong: a normalizer, or a pre-tokenizer other than
    /// GPT-2's ByteLevel (add_prefix_space false, use_regex true). A missing pre_tokenizer is taken as ByteLevel.</summary>
    private static void CheckGpt2Pipeline(string path, JsonElement root)
    {
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            throw new ModelFormatException(path, $"normalizer {Describe(normalizer)} is not supported (GPT-2 has none)");
        }
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind == JsonValueKind.Null) return;
        string? type = pre.ValueKind == JsonValueKind.Object && pre.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type != "ByteLevel")
        {
            throw new ModelFormatException(path, $"pre_tokenizer {Describe(pre)} is not supported; only GPT-2's ByteLevel is");
        }
        if (pre.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True)
        {
            throw new ModelFormatException(path, "pre_tokenizer ByteLevel with add_prefix_space true is not supported");
        }
        if (pre.TryGetProperty("use_regex", out var regex) && regex.ValueKind == JsonValueKind.False)
        {
            throw new ModelFormatException(path, "pre_tokenizer ByteLevel with use_regex false is not supported");
        }

        static string Describe(JsonElement element) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var kind) && kind.ValueKind == JsonValueKind.String
                ? $"\"{kind.GetString()}\""
                : element.ValueKind.ToString();
    }

    private static JsonDocument ReadJson(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
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
            throw new ModelFormatException(path, $"invalid JSON: {e.Message}", e);
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
                throw new ModelFormatException(path, $"{what}: id of token '{entry.Name}' is not a non-negative integer");
            }
            if (!vocabulary.TryAdd(entry.Name, id)) throw new ModelFormatException(path, $"{what}: token '{entry.Name}' appears twice");
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
        bool special = token.TryGetProperty("special", out var flag) && flag.ValueKind == JsonValueKind.True;
        return new AddedToken(id, content.GetString()!, special);
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
