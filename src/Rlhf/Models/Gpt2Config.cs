// GPT-2 hyperparameters, read from and written to Hugging Face's config.json (model_type "gpt2").
using System.Text.Json;

namespace Rlhf.Models;

/// <summary>
/// The shape of a GPT-2 model. Property defaults are those of Hugging Face's <c>gpt2</c> (124M); JSON names follow
/// <c>transformers.GPT2Config</c>.
/// </summary>
public sealed record Gpt2Config
{
    /// <summary>Activation names accepted by <see cref="Validate"/>; both are the tanh approximation of GELU.</summary>
    public static IReadOnlyList<string> SupportedActivations { get; } = ["gelu_new", "gelu_pytorch_tanh"];

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"];

    /// <summary><c>vocab_size</c>.</summary>
    public int VocabSize { get; init; } = 50257;

    /// <summary><c>n_positions</c>: the longest sequence the position embedding covers.</summary>
    public int ContextLength { get; init; } = 1024;

    /// <summary><c>n_embd</c>.</summary>
    public int EmbeddingSize { get; init; } = 768;

    /// <summary><c>n_layer</c>.</summary>
    public int LayerCount { get; init; } = 12;

    /// <summary><c>n_head</c>.</summary>
    public int HeadCount { get; init; } = 12;

    /// <summary><c>layer_norm_epsilon</c>.</summary>
    public float LayerNormEpsilon { get; init; } = 1e-5f;

    /// <summary><c>initializer_range</c>: standard deviation of the normal weight initialisation.</summary>
    public float InitializerRange { get; init; } = 0.02f;

    /// <summary><c>activation_function</c>.</summary>
    public string ActivationFunction { get; init; } = "gelu_new";

    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; } = 50256;

    /// <summary><c>eos_token_id</c>.</summary>
    public int? EosTokenId { get; init; } = 50256;

    /// <summary><c>pad_token_id</c>.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>
    /// The transformers class this folder is for (config.json "architectures"): GPT2LMHeadModel for policies,
    /// GPT2ForSequenceClassification (one label, the scalar <c>score</c> head) for reward models.
    /// </summary>
    public string Architecture { get; init; } = CausalLmArchitecture;

    public const string CausalLmArchitecture = "GPT2LMHeadModel";
    public const string SequenceClassificationArchitecture = "GPT2ForSequenceClassification";

    /// <summary>Width of one attention head: <see cref="EmbeddingSize"/> / <see cref="HeadCount"/>.</summary>
    public int HeadSize => HeadCount == 0 ? 0 : EmbeddingSize / HeadCount;

    /// <summary>The published GPT-2 sizes: "gpt2" (124M), "gpt2-medium", "gpt2-large", "gpt2-xl".</summary>
    public static Gpt2Config Preset(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "gpt2" => new Gpt2Config(),
            "gpt2-medium" => new Gpt2Config { EmbeddingSize = 1024, LayerCount = 24, HeadCount = 16 },
            "gpt2-large" => new Gpt2Config { EmbeddingSize = 1280, LayerCount = 36, HeadCount = 20 },
            "gpt2-xl" => new Gpt2Config { EmbeddingSize = 1600, LayerCount = 48, HeadCount = 25 },
            _ => throw new ArgumentException(
                $"Unknown GPT-2 preset '{name}'. Known presets: {string.Join(", ", PresetNames)}.", nameof(name)),
        };
    }

    /// <summary>Upper bounds <see cref="Validate"/> enforces, far above any published model, so that a corrupt value is
    /// reported before anything is allocated.</summary>
    public const int MaxVocabSize = 1 << 22, MaxContextLength = 1 << 22, MaxEmbeddingSize = 1 << 16, MaxLayerCount = 1 << 12;

    /// <summary>Parameters of the backbone (wte, wpe, per block 12·C² + 13·C, ln_f), as a double so no shape overflows.</summary>
    public double ParameterCount
    {
        get
        {
            double c = EmbeddingSize;
            return ((double)VocabSize + ContextLength) * c + (double)LayerCount * (12 * c * c + 13 * c) + 2 * c;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending values when this configuration cannot be built
    /// (values out of range, or a model too large for this machine's memory).</summary>
    public void Validate()
    {
        var problems = new List<string>();
        void Positive(string key, double value)
        {
            if (!(value > 0)) problems.Add($"{key} must be positive, got {value}");
        }
        Positive("vocab_size", VocabSize);
        Positive("n_positions", ContextLength);
        Positive("n_embd", EmbeddingSize);
        Positive("n_layer", LayerCount);
        Positive("n_head", HeadCount);
        AtMost("vocab_size", VocabSize, MaxVocabSize);
        AtMost("n_positions", ContextLength, MaxContextLength);
        AtMost("n_embd", EmbeddingSize, MaxEmbeddingSize);
        AtMost("n_layer", LayerCount, MaxLayerCount);
        if (HeadCount > 0 && EmbeddingSize > 0 && EmbeddingSize % HeadCount != 0)
            problems.Add($"n_embd ({EmbeddingSize}) must be divisible by n_head ({HeadCount})");
        if (!(LayerNormEpsilon > 0) || !float.IsFinite(LayerNormEpsilon))
            problems.Add($"layer_norm_epsilon must be a positive finite number, got {LayerNormEpsilon}");
        if (!(InitializerRange >= 0) || !float.IsFinite(InitializerRange))
            problems.Add($"initializer_range must be a non-negative finite number, got {InitializerRange}");
        if (ActivationFunction is null || !SupportedActivations.Contains(ActivationFunction))
            problems.Add($"activation_function '{ActivationFunction}' is not supported; use one of {string.Join(", ", SupportedActivations)}");
        CheckToken("bos_token_id", BosTokenId);
        CheckToken("eos_token_id", EosTokenId);
        CheckToken("pad_token_id", PadTokenId);
        if (problems.Count == 0 && ModelMemory.Problem(ParameterCount) is { } memory) problems.Add(memory);
        if (problems.Count > 0)
            throw new ArgumentException($"Invalid GPT-2 configuration: {string.Join("; ", problems)}.");

        void AtMost(string key, int value, int limit)
        {
            if (value > limit) problems.Add($"{key} must be at most {limit:N0}, got {value:N0}");
        }

        void CheckToken(string key, int? id)
        {
            if (id is int value && (value < 0 || value >= VocabSize))
                problems.Add($"{key} ({value}) must lie in [0, vocab_size = {VocabSize})");
        }
    }

    /// <summary>
    /// Reads a Hugging Face <c>config.json</c>. Unknown keys are ignored; <c>model_type</c>, when present, must be
    /// "gpt2"; vocab_size, n_positions, n_embd, n_layer and n_head are required (HF aliases such as hidden_size are
    /// accepted). Throws <see cref="ModelFormatException"/> naming the file and the key at fault.
    /// </summary>
    public static Gpt2Config Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the model configuration: {e.Message}", e);
        }

        JsonDocument document;
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new ModelFormatException(path, "is not valid UTF-8 text; expected a Hugging Face config.json.");
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"is not valid JSON ({JsonText.Describe(e)}); expected a Hugging Face config.json.", e);
        }
        if (JsonText.FindUndecodable(document.RootElement) is { } undecodable)
        {
            document.Dispose();
            throw new ModelFormatException(path, JsonText.UndecodableMessage(undecodable));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, $"expected a JSON object at the top level, found {root.ValueKind}.");

            if (root.TryGetProperty("model_type", out var modelType) && modelType.ValueKind != JsonValueKind.Null)
            {
                if (modelType.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException(path, $"key 'model_type' must be a string, found {Describe(modelType)}.");
                if (modelType.GetString() != "gpt2")
                    throw new ModelFormatException(path,
                        $"key 'model_type' is '{modelType.GetString()}', but only GPT-2 models (model_type \"gpt2\") are supported.");
            }

            var defaults = new Gpt2Config();
            var config = new Gpt2Config
            {
                VocabSize = RequiredInt(path, root, "vocab_size"),
                ContextLength = RequiredInt(path, root, "n_positions", "max_position_embeddings"),
                EmbeddingSize = RequiredInt(path, root, "n_embd", "hidden_size"),
                LayerCount = RequiredInt(path, root, "n_layer", "num_hidden_layers"),
                HeadCount = RequiredInt(path, root, "n_head", "num_attention_heads"),
                LayerNormEpsilon = OptionalFloat(path, root, "layer_norm_epsilon", defaults.LayerNormEpsilon),
                InitializerRange = OptionalFloat(path, root, "initializer_range", defaults.InitializerRange),
                ActivationFunction = OptionalString(path, root, "activation_function", defaults.ActivationFunction),
                BosTokenId = OptionalTokenId(path, root, "bos_token_id", defaults.BosTokenId),
                EosTokenId = OptionalTokenId(path, root, "eos_token_id", defaults.EosTokenId),
                PadTokenId = OptionalTokenId(path, root, "pad_token_id", defaults.PadTokenId),
                Architecture = root.TryGetProperty("architectures", out var architectures) && architectures.ValueKind == JsonValueKind.Array
                    && architectures.GetArrayLength() > 0 && architectures[0].ValueKind == JsonValueKind.String
                    ? architectures[0].GetString()! : defaults.Architecture,
            };
            try
            {
                config.Validate();
            }
            catch (ArgumentException e)
            {
                throw new ModelFormatException(path, e.Message, e);
            }
            return config;
        }
    }

    /// <summary>Writes a config.json that <c>transformers.GPT2LMHeadModel.from_pretrained</c> accepts, atomically.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteString("activation_function", ActivationFunction);
            json.WriteStartArray("architectures");
            json.WriteStringValue(Architecture);
            json.WriteEndArray();
            if (Architecture == SequenceClassificationArchitecture)
            {
                // One label: the scalar reward (transformers derives num_labels = 1 from these maps).
                json.WriteStartObject("id2label");
                json.WriteString("0", "LABEL_0");
                json.WriteEndObject();
                json.WriteStartObject("label2id");
                json.WriteNumber("LABEL_0", 0);
                json.WriteEndObject();
            }
            json.WriteNumber("attn_pdrop", 0.1);
            WriteNullable(json, "bos_token_id", BosTokenId);
            json.WriteNumber("embd_pdrop", 0.1);
            WriteNullable(json, "eos_token_id", EosTokenId);
            json.WriteNumber("initializer_range", Shortest(InitializerRange));
            json.WriteNumber("layer_norm_epsilon", Shortest(LayerNormEpsilon));
            json.WriteString("model_type", "gpt2");
            json.WriteNumber("n_ctx", ContextLength);
            json.WriteNumber("n_embd", EmbeddingSize);
            json.WriteNumber("n_head", HeadCount);
            json.WriteNull("n_inner");
            json.WriteNumber("n_layer", LayerCount);
            json.WriteNumber("n_positions", ContextLength);
            WriteNullable(json, "pad_token_id", PadTokenId);
            json.WriteBoolean("reorder_and_upcast_attn", false);
            json.WriteNumber("resid_pdrop", 0.1);
            json.WriteBoolean("scale_attn_by_inverse_layer_idx", false);
            json.WriteBoolean("scale_attn_weights", true);
            json.WriteNull("summary_activation");
            json.WriteNumber("summary_first_dropout", 0.1);
            json.WriteBoolean("summary_proj_to_labels", true);
            json.WriteString("summary_type", "cls_index");
            json.WriteBoolean("summary_use_proj", true);
            json.WriteBoolean("tie_word_embeddings", true);
            json.WriteString("torch_dtype", "float32");
            json.WriteBoolean("use_cache", true);
            json.WriteNumber("vocab_size", VocabSize);
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
        });
    }

    private static void WriteNullable(Utf8JsonWriter json, string key, int? value)
    {
        if (value is int v) json.WriteNumber(key, v);
        else json.WriteNull(key);
    }

    /// <summary>The double whose shortest decimal form is the float's (so 1e-5f is written "1E-05", not 9.99999974737875E-06).</summary>
    private static double Shortest(float value) => double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    private static bool TryFind(JsonElement root, string[] keys, out string foundKey, out JsonElement value)
    {
        foreach (string key in keys)
        {
            if (root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null)
            {
                foundKey = key;
                return true;
            }
        }
        foundKey = keys[0];
        value = default;
        return false;
    }

    private static int RequiredInt(string path, JsonElement root, params string[] keys)
    {
        if (!TryFind(root, keys, out string key, out var value))
        {
            string aliases = keys.Length > 1 ? $" (or its alias {string.Join(", ", keys.Skip(1).Select(k => $"'{k}'"))})" : "";
            throw new ModelFormatException(path, $"required key '{keys[0]}'{aliases} is missing; add it to the GPT-2 config.");
        }
        return ReadInt(path, key, value);
    }

    private static int ReadInt(string path, string key, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result)) return result;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
            return (int)d;
        throw new ModelFormatException(path, $"key '{key}' must be an integer, found {Describe(value)}.");
    }

    private static float OptionalFloat(string path, JsonElement root, string key, float fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Number) return (float)value.GetDouble();
        throw new ModelFormatException(path, $"key '{key}' must be a number, found {Describe(value)}.");
    }

    private static string OptionalString(string path, JsonElement root, string key, string fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.String) return value.GetString()!;
        throw new ModelFormatException(path, $"key '{key}' must be a string, found {Describe(value)}.");
    }

    private static int? OptionalTokenId(string path, JsonElement root, string key, int? fallback)
    {
        if (!root.TryGetProperty(key, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Null) return null;
        return ReadInt(path, key, value);
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{JsonText.Clip(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {JsonText.Clip(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };
}
