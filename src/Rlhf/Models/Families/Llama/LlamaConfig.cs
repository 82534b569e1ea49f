// Hyperparameters of the Llama family (model_type "llama", "qwen2", "mistral"), read from and written to
// Hugging Face's config.json with transformers' key names.
using System.Text.Json;
using Rlhf.Tensors;

namespace Rlhf.Models.Llama;

/// <summary>
/// The shape of a Llama-style decoder (transformers' LlamaConfig / Qwen2Config / MistralConfig): RMSNorm, rotary
/// positions (half-split, <c>rope_theta</c>, optional llama3 <c>rope_scaling</c>), SwiGLU MLP, grouped-query
/// attention, tied or separate LM head. Qwen2 always has q/k/v biases (no o_proj bias).
/// </summary>
internal sealed record LlamaConfig : CausalLmConfig
{
    /// <summary>The model types this record reads and writes.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = ["llama", "qwen2", "mistral"];

    public LlamaConfig()
    {
        VocabSize = 32000;
        ContextLength = 2048;
        LayerCount = 2;
        BosTokenId = 1;
        EosTokenId = 2;
    }

    private readonly string modelType = "llama";

    /// <summary><c>model_type</c>: "llama", "qwen2" or "mistral".</summary>
    public string Family
    {
        get => modelType;
        init => modelType = value;
    }

    public override string ModelType => modelType;

    /// <summary><c>hidden_size</c>.</summary>
    public int Hidden { get; init; } = 64;

    public override int HiddenSize => Hidden;

    /// <summary><c>intermediate_size</c>: the SwiGLU MLP's width.</summary>
    public int IntermediateSize { get; init; } = 172;

    /// <summary><c>num_attention_heads</c>.</summary>
    public int HeadCount { get; init; } = 4;

    /// <summary><c>num_key_value_heads</c> (grouped-query attention; equal to the heads when absent).</summary>
    public int KeyValueHeadCount { get; init; } = 4;

    /// <summary><c>head_dim</c> (hidden_size / num_attention_heads when absent).</summary>
    public int HeadDim { get; init; } = 16;

    /// <summary><c>rms_norm_eps</c>.</summary>
    public float RmsNormEpsilon { get; init; } = 1e-6f;

    /// <summary><c>rope_theta</c>.</summary>
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary><c>rope_scaling</c> of rope_type "llama3" (Llama 3.1/3.2), or null for plain rotary.</summary>
    public Llama3RopeScaling? RopeScaling { get; init; }

    /// <summary><c>tie_word_embeddings</c>: the LM head is <c>model.embed_tokens.weight</c>; else <c>lm_head.weight</c>.</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary><c>attention_bias</c> (llama, mistral): biases on q, k, v and o. Qwen2 has q/k/v biases regardless.</summary>
    public bool AttentionBias { get; init; }

    /// <summary><c>mlp_bias</c> (llama): biases on gate, up and down.</summary>
    public bool MlpBias { get; init; }

    /// <summary>q/k/v carry biases (qwen2 always, llama/mistral with attention_bias).</summary>
    public bool QkvBias => modelType == "qwen2" || AttentionBias;

    /// <summary>o_proj carries a bias (llama/mistral with attention_bias; never qwen2).</summary>
    public bool OutputBias => modelType != "qwen2" && AttentionBias;

    /// <summary>
    /// Sliding-window attention as config.json sets it (mistral: <c>sliding_window</c>; qwen2: <c>use_sliding_window</c>
    /// with <c>sliding_window</c> and <c>max_window_layers</c>), written back as read; null: none. The window masks key j
    /// for query i only where i − j ≥ window, so it changes nothing while a sequence is no longer than the window:
    /// <see cref="CausalLmConfig.ContextLength"/> is capped at it (longer sequences are refused as too long for the
    /// context) and <see cref="MaxPositionEmbeddings"/> keeps the file's value.
    /// </summary>
    public SlidingWindowAttention? SlidingWindow { get; init; }

    /// <summary><c>max_position_embeddings</c> as read, when the sliding window capped <see cref="CausalLmConfig.ContextLength"/> below it.</summary>
    public int? MaxPositionEmbeddings { get; init; }

    /// <summary><c>torch_dtype</c> written to config.json ("float32" or "bfloat16", after the weights).</summary>
    public string TorchDtype { get; init; } = "float32";

    public override string CausalLmArchitectureName => Prefix + "ForCausalLM";
    public override string SequenceClassificationArchitectureName => Prefix + "ForSequenceClassification";

    private string Prefix => modelType switch { "qwen2" => "Qwen2", "mistral" => "Mistral", _ => "Llama" };

    /// <summary>Names accepted by <see cref="Preset"/> (shapes from each model's Hub config.json).</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["smollm2-135m", "smollm2-360m", "qwen2.5-0.5b", "tinyllama-1.1b", "llama3.2-1b"];

    /// <summary>
    /// Published shapes: HuggingFaceTB/SmolLM2-135M and -360M, Qwen/Qwen2.5-0.5B, TinyLlama/TinyLlama-1.1B-Chat-v1.0,
    /// meta-llama/Llama-3.2-1B (their config.json values).
    /// </summary>
    public static LlamaConfig Preset(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var config = name.Trim().ToLowerInvariant() switch
        {
            "smollm2-135m" => new LlamaConfig
            {
                VocabSize = 49152, Hidden = 576, IntermediateSize = 1536, LayerCount = 30, HeadCount = 9, KeyValueHeadCount = 3, HeadDim = 64,
                ContextLength = 8192, RmsNormEpsilon = 1e-5f, RopeTheta = 100000, TieWordEmbeddings = true, BosTokenId = 0, EosTokenId = 0,
                InitializerRange = 0.041666666666666664f,
            },
            "smollm2-360m" => new LlamaConfig
            {
                VocabSize = 49152, Hidden = 960, IntermediateSize = 2560, LayerCount = 32, HeadCount = 15, KeyValueHeadCount = 5, HeadDim = 64,
                ContextLength = 8192, RmsNormEpsilon = 1e-5f, RopeTheta = 100000, TieWordEmbeddings = true, BosTokenId = 0, EosTokenId = 0,
            },
            "qwen2.5-0.5b" => new LlamaConfig
            {
                Family = "qwen2", VocabSize = 151936, Hidden = 896, IntermediateSize = 4864, LayerCount = 24, HeadCount = 14, KeyValueHeadCount = 2,
                HeadDim = 64, ContextLength = 32768, RmsNormEpsilon = 1e-6f, RopeTheta = 1000000, TieWordEmbeddings = true,
                BosTokenId = 151643, EosTokenId = 151643,
            },
            "tinyllama-1.1b" => new LlamaConfig
            {
                VocabSize = 32000, Hidden = 2048, IntermediateSize = 5632, LayerCount = 22, HeadCount = 32, KeyValueHeadCount = 4, HeadDim = 64,
                ContextLength = 2048, RmsNormEpsilon = 1e-5f, RopeTheta = 10000, TieWordEmbeddings = false, BosTokenId = 1, EosTokenId = 2,
            },
            "llama3.2-1b" => new LlamaConfig
            {
                VocabSize = 128256, Hidden = 2048, IntermediateSize = 8192, LayerCount = 16, HeadCount = 32, KeyValueHeadCount = 8, HeadDim = 64,
                ContextLength = 131072, RmsNormEpsilon = 1e-5f, RopeTheta = 500000, TieWordEmbeddings = true, BosTokenId = 128000, EosTokenId = 128001,
                RopeScaling = new Llama3RopeScaling(32.0, 1.0, 4.0, 8192),
            },
            _ => throw new ArgumentException($"Unknown Llama-family preset '{name}'. Known presets: {string.Join(", ", PresetNames)}.", nameof(name)),
        };
        return config with { Architecture = config.CausalLmArchitectureName };
    }

    /// <summary>The layout's total (<see cref="LlamaModel.Layout"/>): embeddings, per block norms, q/k/v/o, gate/up/down
    /// and their optional biases, the final norm, and a separate LM head when untied.</summary>
    public override double ParameterCount
    {
        get
        {
            double c = Hidden, q = (double)HeadCount * HeadDim, kv = (double)KeyValueHeadCount * HeadDim, m = IntermediateSize;
            double block = 2 * c + 2 * q * c + 2 * kv * c + 3 * m * c
                + (QkvBias ? q + 2 * kv : 0) + (OutputBias ? c : 0) + (MlpBias ? 2 * m + c : 0);
            return (double)VocabSize * c * (TieWordEmbeddings ? 1 : 2) + LayerCount * block + c;
        }
    }

    public override void Validate()
    {
        var problems = new List<string>();
        void Positive(string key, double value)
        {
            if (!(value > 0)) problems.Add($"{key} must be positive, got {value}");
        }
        if (!ModelTypes.Contains(modelType)) problems.Add($"model_type '{modelType}' is not one of {string.Join(", ", ModelTypes)}");
        Positive("vocab_size", VocabSize);
        Positive("max_position_embeddings", ContextLength);
        Positive("hidden_size", Hidden);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", LayerCount);
        Positive("num_attention_heads", HeadCount);
        Positive("num_key_value_heads", KeyValueHeadCount);
        Positive("head_dim", HeadDim);
        if (HeadCount > 0 && KeyValueHeadCount > 0 && HeadCount % KeyValueHeadCount != 0)
            problems.Add($"num_key_value_heads ({KeyValueHeadCount}) must divide num_attention_heads ({HeadCount})");
        if (HeadDim > 0 && HeadDim % 2 != 0) problems.Add($"head_dim ({HeadDim}) must be even for rotary embeddings");
        if (!(RmsNormEpsilon > 0) || !float.IsFinite(RmsNormEpsilon)) problems.Add($"rms_norm_eps must be a positive finite number, got {RmsNormEpsilon}");
        if (!(RopeTheta > 0) || !double.IsFinite(RopeTheta)) problems.Add($"rope_theta must be a positive finite number, got {RopeTheta}");
        if (!(InitializerRange >= 0) || !float.IsFinite(InitializerRange))
            problems.Add($"initializer_range must be a non-negative finite number, got {InitializerRange}");
        if (RopeScaling is { } s && (!(s.Factor >= 1) || !(s.HighFrequencyFactor > s.LowFrequencyFactor) || !(s.LowFrequencyFactor > 0) || s.OriginalMaxPositionEmbeddings <= 0))
            problems.Add("rope_scaling needs factor ≥ 1, 0 < low_freq_factor < high_freq_factor and a positive original_max_position_embeddings");
        foreach (var (key, id) in new[] { ("bos_token_id", BosTokenId), ("eos_token_id", EosTokenId), ("pad_token_id", PadTokenId) })
            if (id is int value && (value < 0 || value >= VocabSize)) problems.Add($"{key} ({value}) must lie in [0, vocab_size = {VocabSize})");
        if (problems.Count > 0) throw new ArgumentException($"Invalid {modelType} configuration: {string.Join("; ", problems)}.");
    }

    /// <summary>
    /// The keys of a parsed config.json (model_type llama, qwen2 or mistral). Required: vocab_size, hidden_size,
    /// intermediate_size, num_hidden_layers, num_attention_heads; unsupported settings (another hidden_act, a sliding
    /// window without its size, rope scaling other than llama3) name their key.
    /// </summary>
    public static LlamaConfig FromJson(string path, JsonElement root)
    {
        string type = ConfigJson.ModelType(path, root) ?? "llama";
        string family = type;
        var defaults = new LlamaConfig();
        int hidden = ConfigJson.RequiredInt(path, root, family, "hidden_size");
        int heads = ConfigJson.RequiredInt(path, root, family, "num_attention_heads");
        int kvHeads = ConfigJson.OptionalInt(path, root, "num_key_value_heads", heads) ?? heads;
        if (heads <= 0) throw new ModelFormatException(path, $"key 'num_attention_heads' must be positive, got {heads}.");
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw new ModelFormatException(path, $"key 'num_key_value_heads' ({kvHeads}) must divide num_attention_heads ({heads}).");
        int? explicitHeadDim = ConfigJson.OptionalInt(path, root, "head_dim", null);
        if (explicitHeadDim is null && hidden % heads != 0)
            throw new ModelFormatException(path, $"key 'hidden_size' ({hidden}) must be divisible by num_attention_heads ({heads}) when head_dim is absent.");
        string act = ConfigJson.OptionalString(path, root, "hidden_act", "silu");
        if (act != "silu") throw new ModelFormatException(path, $"key 'hidden_act' is '{act}'; the Llama family here supports only 'silu' (SwiGLU).");
        int context = ConfigJson.OptionalInt(path, root, "max_position_embeddings", defaults.ContextLength) ?? defaults.ContextLength;
        var window = ReadSlidingWindow(path, root, type);
        var config = new LlamaConfig
        {
            Family = type,
            VocabSize = ConfigJson.RequiredInt(path, root, family, "vocab_size"),
            Hidden = hidden,
            IntermediateSize = ConfigJson.RequiredInt(path, root, family, "intermediate_size"),
            LayerCount = ConfigJson.RequiredInt(path, root, family, "num_hidden_layers"),
            HeadCount = heads,
            KeyValueHeadCount = kvHeads,
            HeadDim = explicitHeadDim ?? hidden / heads,
            ContextLength = window is { Size: var size } && size < context ? size : context,
            MaxPositionEmbeddings = window is { Size: var cap } && cap < context ? context : null,
            SlidingWindow = window,
            RmsNormEpsilon = ConfigJson.OptionalFloat(path, root, "rms_norm_eps", defaults.RmsNormEpsilon),
            RopeTheta = ConfigJson.OptionalDouble(path, root, "rope_theta", defaults.RopeTheta),
            RopeScaling = ReadRopeScaling(path, root),
            TieWordEmbeddings = ConfigJson.OptionalBool(path, root, "tie_word_embeddings", false),
            AttentionBias = ConfigJson.OptionalBool(path, root, "attention_bias", false),
            MlpBias = ConfigJson.OptionalBool(path, root, "mlp_bias", false),
            InitializerRange = ConfigJson.OptionalFloat(path, root, "initializer_range", defaults.InitializerRange),
            BosTokenId = ConfigJson.OptionalTokenId(path, root, "bos_token_id", null),
            EosTokenId = ConfigJson.OptionalTokenId(path, root, "eos_token_id", null),
            PadTokenId = ConfigJson.OptionalTokenId(path, root, "pad_token_id", null),
            TorchDtype = ConfigJson.OptionalString(path, root, "torch_dtype", "float32"),
        };
        config = config with { Architecture = ConfigJson.Architecture(root, config.CausalLmArchitectureName) };
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

    private static SlidingWindowAttention? ReadSlidingWindow(string path, JsonElement root, string type)
    {
        int? size = ConfigJson.OptionalInt(path, root, "sliding_window", null);
        if (type == "qwen2")
        {
            if (!ConfigJson.OptionalBool(path, root, "use_sliding_window", false)) return null;
            if (size is not int qwenSize) throw new ModelFormatException(path, "key 'use_sliding_window' is true but 'sliding_window' is missing or null.");
            size = qwenSize;
        }
        else if (type != "mistral" || size is null) return null;
        if (size <= 0) throw new ModelFormatException(path, $"key 'sliding_window' must be positive, got {size}.");
        return new SlidingWindowAttention(size.Value, type == "qwen2" ? ConfigJson.OptionalInt(path, root, "max_window_layers", null) : null);
    }

    private static Llama3RopeScaling? ReadRopeScaling(string path, JsonElement root)
    {
        if (!root.TryGetProperty("rope_scaling", out var scaling) || scaling.ValueKind == JsonValueKind.Null) return null;
        if (scaling.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(path, $"key 'rope_scaling' must be an object or null, found {ConfigJson.Describe(scaling)}.");
        string kind = scaling.TryGetProperty("rope_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
            : scaling.TryGetProperty("type", out var t2) && t2.ValueKind == JsonValueKind.String ? t2.GetString()! : "";
        if (kind == "default") return null;
        if (kind != "llama3")
            throw new ModelFormatException(path, $"key 'rope_scaling' has rope_type '{kind}'; supported: llama3 (or default / null).");
        double Number(string key)
        {
            if (scaling.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number) return v.GetDouble();
            throw new ModelFormatException(path, $"key 'rope_scaling.{key}' is missing or not a number.");
        }
        return new Llama3RopeScaling(Number("factor"), Number("low_freq_factor"), Number("high_freq_factor"),
            (int)Number("original_max_position_embeddings"));
    }

    /// <summary>Writes a config.json that transformers' Auto classes load (model_type picks the family), atomically.</summary>
    public override void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteStartArray("architectures");
            json.WriteStringValue(Architecture);
            json.WriteEndArray();
            if (IsSequenceClassifier)
            {
                json.WriteStartObject("id2label");
                json.WriteString("0", "LABEL_0");
                json.WriteEndObject();
                json.WriteStartObject("label2id");
                json.WriteNumber("LABEL_0", 0);
                json.WriteEndObject();
            }
            if (modelType != "qwen2") json.WriteBoolean("attention_bias", AttentionBias);
            json.WriteNumber("attention_dropout", 0.0);
            ConfigJson.WriteNullable(json, "bos_token_id", BosTokenId);
            ConfigJson.WriteNullable(json, "eos_token_id", EosTokenId);
            json.WriteNumber("head_dim", HeadDim);
            json.WriteString("hidden_act", "silu");
            json.WriteNumber("hidden_size", Hidden);
            json.WriteNumber("initializer_range", ConfigJson.Shortest(InitializerRange));
            json.WriteNumber("intermediate_size", IntermediateSize);
            json.WriteNumber("max_position_embeddings", MaxPositionEmbeddings ?? ContextLength);
            if (SlidingWindow?.MaxWindowLayers is int windowLayers) json.WriteNumber("max_window_layers", windowLayers);
            if (modelType == "llama") json.WriteBoolean("mlp_bias", MlpBias);
            json.WriteString("model_type", modelType);
            json.WriteNumber("num_attention_heads", HeadCount);
            json.WriteNumber("num_hidden_layers", LayerCount);
            json.WriteNumber("num_key_value_heads", KeyValueHeadCount);
            ConfigJson.WriteNullable(json, "pad_token_id", PadTokenId);
            json.WriteNumber("rms_norm_eps", ConfigJson.Shortest(RmsNormEpsilon));
            if (RopeScaling is { } s)
            {
                json.WriteStartObject("rope_scaling");
                json.WriteNumber("factor", s.Factor);
                json.WriteNumber("high_freq_factor", s.HighFrequencyFactor);
                json.WriteNumber("low_freq_factor", s.LowFrequencyFactor);
                json.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositionEmbeddings);
                json.WriteString("rope_type", "llama3");
                json.WriteEndObject();
            }
            else json.WriteNull("rope_scaling");
            json.WriteNumber("rope_theta", RopeTheta);
            if (modelType is "qwen2" or "mistral") ConfigJson.WriteNullable(json, "sliding_window", SlidingWindow?.Size);
            json.WriteBoolean("tie_word_embeddings", TieWordEmbeddings);
            json.WriteString("torch_dtype", TorchDtype);
            json.WriteBoolean("use_cache", true);
            if (modelType == "qwen2") json.WriteBoolean("use_sliding_window", SlidingWindow is not null);
            json.WriteNumber("vocab_size", VocabSize);
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
        });
    }
}

/// <summary>A sliding attention window of <paramref name="Size"/> tokens (qwen2 also names <paramref name="MaxWindowLayers"/>).</summary>
internal sealed record SlidingWindowAttention(int Size, int? MaxWindowLayers);
