// GPT-2 hyperparameters, read from and written to Hugging Face's config.json (model_type "gpt2").
using System.Text.Json;

namespace Rlhf.Models.Gpt2;

/// <summary>
/// The shape of a GPT-2 model (one family behind <see cref="ICausalLm"/>). Property defaults are those of Hugging Face's <c>gpt2</c> (124M); JSON names follow
/// <c>transformers.GPT2Config</c>.
/// </summary>
internal sealed record Gpt2Config : CausalLmConfig
{
    /// <summary>Activation names accepted by <see cref="Validate"/>; both are the tanh approximation of GELU.</summary>
    public static IReadOnlyList<string> SupportedActivations { get; } = ["gelu_new", "gelu_pytorch_tanh"];

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"];

    public Gpt2Config()
    {
        VocabSize = 50257;
        ContextLength = 1024;
        LayerCount = 12;
        BosTokenId = 50256;
        EosTokenId = 50256;
        Architecture = CausalLmArchitecture;
    }

    public const string ModelTypeName = "gpt2";
    public override string ModelType => ModelTypeName;

    /// <summary><c>n_embd</c>.</summary>
    public int EmbeddingSize { get; init; } = 768;

    public override int HiddenSize => EmbeddingSize;

    /// <summary><c>n_head</c>.</summary>
    public int HeadCount { get; init; } = 12;

    /// <summary><c>layer_norm_epsilon</c>.</summary>
    public float LayerNormEpsilon { get; init; } = 1e-5f;

    /// <summary><c>activation_function</c>.</summary>
    public string ActivationFunction { get; init; } = "gelu_new";

    /// <summary>GPT2LMHeadModel for policies, GPT2ForSequenceClassification (one label, the scalar <c>score</c> head) for reward models.</summary>
    public const string CausalLmArchitecture = "GPT2LMHeadModel";
    public const string SequenceClassificationArchitecture = "GPT2ForSequenceClassification";

    public override string CausalLmArchitectureName => CausalLmArchitecture;
    public override string SequenceClassificationArchitectureName => SequenceClassificationArchitecture;

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

    /// <summary>wte, wpe, per block 12·C² + 13·C, ln_f.</summary>
    public override double ParameterCount
    {
        get
        {
            double c = EmbeddingSize;
            return ((double)VocabSize + ContextLength) * c + (double)LayerCount * (12 * c * c + 13 * c) + 2 * c;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending values when this configuration cannot be built
    /// (values out of range, or a model too large for this machine's memory).</summary>
    public override void Validate()
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
        using var document = ConfigJson.Parse(path);
        var root = document.RootElement;
        string? modelType = ConfigJson.ModelType(path, root);
        if (modelType is not null && modelType != ModelTypeName)
            throw new ModelFormatException(path,
                $"key 'model_type' is '{modelType}', but a GPT-2 config (model_type \"gpt2\") was expected.");
        return FromJson(path, root);
    }

    /// <summary>The GPT-2 keys of a parsed config.json (see <see cref="Load"/>).</summary>
    public static Gpt2Config FromJson(string path, JsonElement root)
    {
        const string family = "GPT-2";
        var defaults = new Gpt2Config();
        var config = new Gpt2Config
        {
            VocabSize = ConfigJson.RequiredInt(path, root, family, "vocab_size"),
            ContextLength = ConfigJson.RequiredInt(path, root, family, "n_positions", "max_position_embeddings"),
            EmbeddingSize = ConfigJson.RequiredInt(path, root, family, "n_embd", "hidden_size"),
            LayerCount = ConfigJson.RequiredInt(path, root, family, "n_layer", "num_hidden_layers"),
            HeadCount = ConfigJson.RequiredInt(path, root, family, "n_head", "num_attention_heads"),
            LayerNormEpsilon = ConfigJson.OptionalFloat(path, root, "layer_norm_epsilon", defaults.LayerNormEpsilon),
            InitializerRange = ConfigJson.OptionalFloat(path, root, "initializer_range", defaults.InitializerRange),
            ActivationFunction = ConfigJson.OptionalString(path, root, "activation_function", defaults.ActivationFunction),
            BosTokenId = ConfigJson.OptionalTokenId(path, root, "bos_token_id", defaults.BosTokenId),
            EosTokenId = ConfigJson.OptionalTokenId(path, root, "eos_token_id", defaults.EosTokenId),
            PadTokenId = ConfigJson.OptionalTokenId(path, root, "pad_token_id", defaults.PadTokenId),
            Architecture = ConfigJson.Architecture(root, defaults.Architecture),
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

    /// <summary>Writes a config.json that <c>transformers.GPT2LMHeadModel.from_pretrained</c> accepts, atomically.</summary>
    public override void Save(string path)
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
            ConfigJson.WriteNullable(json, "bos_token_id", BosTokenId);
            json.WriteNumber("embd_pdrop", 0.1);
            ConfigJson.WriteNullable(json, "eos_token_id", EosTokenId);
            json.WriteNumber("initializer_range", ConfigJson.Shortest(InitializerRange));
            json.WriteNumber("layer_norm_epsilon", ConfigJson.Shortest(LayerNormEpsilon));
            json.WriteString("model_type", "gpt2");
            json.WriteNumber("n_ctx", ContextLength);
            json.WriteNumber("n_embd", EmbeddingSize);
            json.WriteNumber("n_head", HeadCount);
            json.WriteNull("n_inner");
            json.WriteNumber("n_layer", LayerCount);
            json.WriteNumber("n_positions", ContextLength);
            ConfigJson.WriteNullable(json, "pad_token_id", PadTokenId);
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
}
