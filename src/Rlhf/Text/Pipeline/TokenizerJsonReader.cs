// Reads the pipeline sections of a tokenizer.json (normalizer, pre_tokenizer, model flags, post_processor, decoder);
// an unsupported type is an error naming it and the file.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rlhf.Models;

namespace Rlhf.Text.Pipeline;

internal static class TokenizerJsonReader
{
    public static TokenizerPipeline Read(string path, JsonElement root, JsonElement model)
    {
        var pre = Optional(root, "pre_tokenizer") is { } preElement ? ReadPreTokenizer(path, preElement, "pre_tokenizer") : null;
        var decoder = Optional(root, "decoder") is { } decoderElement ? ReadDecoder(path, decoderElement, "decoder") : null;
        // Byte-level vocabularies come with a ByteLevel pre-tokenizer; a file with neither pre-tokenizer nor decoder (or
        // only a ByteLevel decoder) is GPT-2's. Llama 2's has no pre-tokenizer and a ByteFallback decoder chain.
        bool byteLevel = pre is null ? decoder is null or ByteLevelDecoder : ContainsByteLevel(pre);
        if (pre is not null && byteLevel && !EndsWithByteLevel(pre))
        {
            throw new ModelFormatException(path, "pre_tokenizer: ByteLevel must be the last step of the sequence");
        }
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
            {
                throw new ModelFormatException(path, $"model.{affix} \"{JsonText.Clip(value.GetString()!)}\" is not supported (no Llama or GPT family uses it)");
            }
        }
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
        {
            throw new ModelFormatException(path, "model.dropout is set; BPE dropout is for training tokenizers and is not supported");
        }
        var pipeline = new TokenizerPipeline
        {
            Normalizer = Optional(root, "normalizer") is { } normalizer ? ReadNormalizer(path, normalizer, "normalizer") : null,
            PreTokenizer = pre,
            ByteLevelVocabulary = byteLevel,
            ByteFallback = Flag(model, "byte_fallback"),
            IgnoreMerges = Flag(model, "ignore_merges"),
            FuseUnknown = Flag(model, "fuse_unk"),
            UnknownToken = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null,
            Decoder = decoder,
        };
        var source = new JsonObject();
        foreach (string section in new[] { "normalizer", "pre_tokenizer", "post_processor", "decoder" })
        {
            source[section] = root.TryGetProperty(section, out var value) ? JsonNode.Parse(value.GetRawText()) : null;
        }
        var modelOptions = new JsonObject();
        foreach (var property in model.EnumerateObject())
        {
            if (property.Name is not ("vocab" or "merges")) modelOptions[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        }
        source["model"] = modelOptions;
        pipeline = pipeline with { Source = source };
        if (Optional(root, "post_processor") is { } post)
        {
            var prefix = new List<int>();
            var suffix = new List<int>();
            ReadPostProcessor(path, post, "post_processor", prefix, suffix);
            pipeline = pipeline with { PrefixIds = prefix, SuffixIds = suffix };
        }
        return pipeline;
    }

    private static JsonElement? Optional(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static string TypeOf(string path, JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            throw new ModelFormatException(path, $"{where}: expected an object with a string \"type\"");
        }
        return type.GetString()!;
    }

    private static string String(string path, JsonElement element, string name, string where, string? fallback = null)
    {
        if (element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String) return value.GetString()!;
        return fallback ?? throw new ModelFormatException(path, $"{where}: missing the string \"{name}\"");
    }

    private static IEnumerable<(JsonElement Item, string Where)> Items(string path, JsonElement element, string name, string where)
    {
        if (!element.TryGetProperty(name, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException(path, $"{where}: missing the array \"{name}\"");
        }
        int i = 0;
        foreach (var item in list.EnumerateArray()) yield return (item, $"{where}.{name}[{i++}]");
    }

    private static TextNormalizer ReadNormalizer(string path, JsonElement element, string where)
    {
        string type = TypeOf(path, element, where);
        return type switch
        {
            "NFC" => new UnicodeFormNormalizer(compose: true),
            "NFD" => new UnicodeFormNormalizer(compose: false),
            "Lowercase" => new LowercaseNormalizer(),
            "Prepend" => new PrependNormalizer(String(path, element, "prepend", where)),
            "Replace" => new ReplaceNormalizer(ReadPattern(path, element, where), String(path, element, "content", where)),
            "Sequence" => new SequenceNormalizer([.. Items(path, element, "normalizers", where).Select(x => ReadNormalizer(path, x.Item, x.Where))]),
            _ => throw new ModelFormatException(path, $"{where}: normalizer type \"{JsonText.Clip(type)}\" is not supported"),
        };
    }

    private static PreTokenizer ReadPreTokenizer(string path, JsonElement element, string where)
    {
        string type = TypeOf(path, element, where);
        switch (type)
        {
            case "ByteLevel":
                return new ByteLevelPreTokenizer(Bool(element, "add_prefix_space", false), Bool(element, "use_regex", true));
            case "Digits":
                return new DigitsPreTokenizer(Bool(element, "individual_digits", false));
            case "Metaspace":
                return new MetaspacePreTokenizer(Replacement(path, element, where), ReadPrependScheme(path, element, where), Bool(element, "split", true));
            case "Split":
            {
                string behavior = String(path, element, "behavior", where);
                var parsed = behavior switch
                {
                    "Isolated" => SplitBehavior.Isolated,
                    "Removed" => SplitBehavior.Removed,
                    "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
                    "MergedWithNext" => SplitBehavior.MergedWithNext,
                    _ => throw new ModelFormatException(path, $"{where}: Split behavior \"{JsonText.Clip(behavior)}\" is not supported"),
                };
                return new SplitPreTokenizer(ReadPattern(path, element, where), parsed, Bool(element, "invert", false));
            }
            case "Sequence":
                return new SequencePreTokenizer([.. Items(path, element, "pretokenizers", where).Select(x => ReadPreTokenizer(path, x.Item, x.Where))]);
            default:
                throw new ModelFormatException(path, $"{where}: pre-tokenizer type \"{JsonText.Clip(type)}\" is not supported");
        }
    }

    private static TokenDecoder ReadDecoder(string path, JsonElement element, string where)
    {
        string type = TypeOf(path, element, where);
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Replace" => new ReplaceDecoder(ReadPattern(path, element, where), String(path, element, "content", where)),
            "Strip" => new StripDecoder(SingleChar(path, String(path, element, "content", where), where), Int(element, "start"), Int(element, "stop")),
            "Metaspace" => new MetaspaceDecoder(Replacement(path, element, where), ReadPrependScheme(path, element, where)),
            "Sequence" => new SequenceDecoder([.. Items(path, element, "decoders", where).Select(x => ReadDecoder(path, x.Item, x.Where))]),
            _ => throw new ModelFormatException(path, $"{where}: decoder type \"{JsonText.Clip(type)}\" is not supported"),
        };
    }

    /// <summary>The ids a single sequence gets around it: TemplateProcessing's "single" (special_tokens give the ids),
    /// Roberta/Bert's cls + sep; ByteLevel adds none.</summary>
    private static void ReadPostProcessor(string path, JsonElement element, string where, List<int> prefix, List<int> suffix)
    {
        string type = TypeOf(path, element, where);
        switch (type)
        {
            case "ByteLevel":
                return;
            case "Sequence":
                foreach (var (item, itemWhere) in Items(path, element, "processors", where)) ReadPostProcessor(path, item, itemWhere, prefix, suffix);
                return;
            case "RobertaProcessing" or "BertProcessing":
                prefix.Add(PairId(path, element, "cls", where));
                suffix.Add(PairId(path, element, "sep", where));
                return;
            case "TemplateProcessing":
            {
                bool seenSequence = false;
                foreach (var (item, itemWhere) in Items(path, element, "single", where))
                {
                    if (item.TryGetProperty("Sequence", out _))
                    {
                        seenSequence = true;
                    }
                    else if (item.TryGetProperty("SpecialToken", out var special) && special.TryGetProperty("id", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        (seenSequence ? suffix : prefix).AddRange(TemplateIds(path, element, name.GetString()!, itemWhere));
                    }
                    else
                    {
                        throw new ModelFormatException(path, $"{itemWhere}: expected {{\"SpecialToken\": {{\"id\": ...}}}} or {{\"Sequence\": ...}}");
                    }
                }
                return;
            }
            default:
                throw new ModelFormatException(path, $"{where}: post-processor type \"{JsonText.Clip(type)}\" is not supported");
        }
    }

    private static IEnumerable<int> TemplateIds(string path, JsonElement template, string name, string where)
    {
        if (!template.TryGetProperty("special_tokens", out var map) || map.ValueKind != JsonValueKind.Object
            || !map.TryGetProperty(name, out var entry) || !entry.TryGetProperty("ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException(path, $"{where}: special token \"{name}\" has no ids in special_tokens");
        }
        var result = new List<int>();
        foreach (var id in ids.EnumerateArray())
        {
            if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int value)) throw new ModelFormatException(path, $"{where}: ids of \"{name}\" must be integers");
            result.Add(value);
        }
        return result;
    }

    private static int PairId(string path, JsonElement element, string name, string where) =>
        element.TryGetProperty(name, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2 && pair[1].TryGetInt32(out int id)
            ? id
            : throw new ModelFormatException(path, $"{where}: \"{name}\" must be [token, id]");

    private static bool Bool(JsonElement element, string name, bool fallback) =>
        element.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;

    private static int Int(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) ? i : 0;

    private static char SingleChar(string path, string text, string where) =>
        text.Length == 1 ? text[0] : throw new ModelFormatException(path, $"{where}: expected a single character, got \"{text}\"");

    private static char Replacement(string path, JsonElement element, string where) =>
        SingleChar(path, String(path, element, "replacement", where, "\u2581"), where);

    /// <summary>prepend_scheme, or the older add_prefix_space (true → always, false → never).</summary>
    private static PrependScheme ReadPrependScheme(string path, JsonElement element, string where)
    {
        if (element.TryGetProperty("prepend_scheme", out var scheme) && scheme.ValueKind == JsonValueKind.String)
        {
            return scheme.GetString() switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                var other => throw new ModelFormatException(path, $"{where}: prepend_scheme \"{JsonText.Clip(other ?? "")}\" is not supported"),
            };
        }
        return Bool(element, "add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never;
    }

    /// <summary>A {"String": ...} (literal) or {"Regex": ...} (Oniguruma syntax, read as .NET) pattern.</summary>
    private static Regex ReadPattern(string path, JsonElement element, string where)
    {
        if (!element.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException(path, $"{where}: missing the \"pattern\" object");
        }
        if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
        {
            return new Regex(Regex.Escape(literal.GetString()!), RegexOptions.CultureInvariant);
        }
        if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
        {
            try
            {
                return new Regex(RegexTranslation.CodePointAware(regex.GetString()!), RegexOptions.CultureInvariant | RegexOptions.Compiled);
            }
            catch (ArgumentException e)
            {
                throw new ModelFormatException(path, $"{where}: the regex \"{JsonText.Clip(regex.GetString()!)}\" is not supported ({e.Message})", e);
            }
        }
        throw new ModelFormatException(path, $"{where}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}");
    }

    private static bool ContainsByteLevel(PreTokenizer pre) => pre switch
    {
        ByteLevelPreTokenizer => true,
        SequencePreTokenizer sequence => sequence.Steps.Any(ContainsByteLevel),
        _ => false,
    };

    private static bool EndsWithByteLevel(PreTokenizer pre) => pre switch
    {
        ByteLevelPreTokenizer => true,
        SequencePreTokenizer sequence => sequence.Steps.Count > 0 && EndsWithByteLevel(sequence.Steps[^1])
            && !sequence.Steps.Take(sequence.Steps.Count - 1).Any(ContainsByteLevel),
        _ => false,
    };
}
