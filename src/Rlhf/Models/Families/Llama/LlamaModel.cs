// The Llama family (Llama 2/3, TinyLlama, SmolLM2, Qwen2/2.5, Mistral without sliding window) on our kernels, as
// transformers' LlamaModel: token embedding, pre-RMSNorm blocks with rotary grouped-query attention and a SwiGLU MLP,
// final RMSNorm, LM head tied to embed_tokens or separate (lm_head.weight).
using Rlhf.Tensors;

namespace Rlhf.Models.Llama;

/// <summary>
/// A Llama-style backbone whose parameters carry transformers' names (<c>model.layers.N.self_attn.q_proj.weight</c>, …;
/// nn.Linear weights [out, in]), so folders move between this project and transformers unchanged.
/// </summary>
internal sealed class LlamaModel : ICausalLm
{
    public const string Prefix = "model.";
    private const string EmbeddingName = "model.embed_tokens.weight";
    private const string NormName = "model.norm.weight";
    private const string SeparateHeadName = "lm_head.weight";

    public LlamaConfig Config { get; }
    CausalLmConfig ICausalLm.Config => Config;
    public ParameterSet Parameters { get; }
    public CheckpointFormat WeightsFormat { get; set; } = CheckpointFormat.Default;
    public IReadOnlyList<(string Name, MatrixLayout Layout)> LinearWeights { get; }
    public string LmHeadWeightName => Config.TieWordEmbeddings ? EmbeddingName : SeparateHeadName;

    private readonly BlockNames[] blocks;
    private readonly HashSet<string> own;
    private readonly NativeSlab rotarySlab;
    private readonly Tensor cos, sin;

    /// <param name="heads">Extra parameters in the same set (a reward model's <c>score.weight</c>, PPO's value head).</param>
    public LlamaModel(LlamaConfig config, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null)
    {
        config.Validate();
        Config = config;
        var layout = Layout(config).ToList();
        own = layout.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        Parameters = new ParameterSet(layout.Concat(heads ?? []));
        blocks = Enumerable.Range(0, config.LayerCount).Select(i => BlockNames.For(i, config)).ToArray();
        LinearWeights = blocks.SelectMany(b => new[] { b.Q, b.K, b.V, b.O, b.Gate, b.Up, b.Down })
            .Select(name => (name, MatrixLayout.OutputMajor)).ToArray();

        // Rotary tables cos/sin [positions, head_dim/2] (transformers computes them in fp32 from inv_freq).
        var inverse = RotaryFrequencies.Inverse(config.HeadDim, config.RopeTheta, config.RopeScaling);
        var (cosValues, sinValues) = RotaryFrequencies.Tables(inverse, config.ContextLength);
        int half = config.HeadDim / 2;
        rotarySlab = new NativeSlab(2L * config.ContextLength * half, zeroed: false);
        cos = new Tensor(rotarySlab, 0, config.ContextLength, half);
        sin = new Tensor(rotarySlab, (long)config.ContextLength * half, config.ContextLength, half);
        cosValues.CopyTo(cos.Span);
        sinValues.CopyTo(sin.Span);
    }

    /// <summary>Every parameter: transformers' name, shape (nn.Linear [out, in]) and whether AdamW decays it (2-D weights).</summary>
    public static IEnumerable<(string Name, int[] Shape, bool Decay)> Layout(LlamaConfig config)
    {
        int c = config.Hidden, q = config.HeadCount * config.HeadDim, kv = config.KeyValueHeadCount * config.HeadDim, m = config.IntermediateSize;
        yield return (EmbeddingName, [config.VocabSize, c], true);
        for (int i = 0; i < config.LayerCount; i++)
        {
            var n = BlockNames.For(i, config);
            yield return (n.InputNorm, [c], false);
            yield return (n.Q, [q, c], true);
            if (config.QkvBias) yield return (n.QBias!, [q], false);
            yield return (n.K, [kv, c], true);
            if (config.QkvBias) yield return (n.KBias!, [kv], false);
            yield return (n.V, [kv, c], true);
            if (config.QkvBias) yield return (n.VBias!, [kv], false);
            yield return (n.O, [c, q], true);
            if (config.OutputBias) yield return (n.OBias!, [c], false);
            yield return (n.PostNorm, [c], false);
            yield return (n.Gate, [m, c], true);
            if (config.MlpBias) yield return (n.GateBias!, [m], false);
            yield return (n.Up, [m, c], true);
            if (config.MlpBias) yield return (n.UpBias!, [m], false);
            yield return (n.Down, [c, m], true);
            if (config.MlpBias) yield return (n.DownBias!, [c], false);
        }
        yield return (NormName, [c], false);
        if (!config.TieWordEmbeddings) yield return (SeparateHeadName, [config.VocabSize, c], true);
    }

    /// <summary>
    /// Random initialisation as transformers' LlamaPreTrainedModel: Linear and Embedding weights N(0, initializer_range),
    /// biases 0, RMSNorm weights 1, the padding token's embedding row 0.
    /// </summary>
    public static LlamaModel CreateRandom(LlamaConfig config, ulong seed, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null)
    {
        var model = new LlamaModel(config, heads);
        var rng = new Rng(seed);
        foreach (var parameter in model.Parameters.Parameters)
        {
            var values = parameter.Value.Span;
            if (parameter.Name.EndsWith(".bias", StringComparison.Ordinal)) values.Clear();
            else if (parameter.Name.EndsWith("norm.weight", StringComparison.Ordinal)) values.Fill(1f);
            else rng.FillNormal(values, 0, config.InitializerRange);
        }
        if (config.PadTokenId is int pad) model.Parameters[EmbeddingName].Value.Span.Slice(pad * config.Hidden, config.Hidden).Clear();
        return model;
    }

    public bool IsOwnParameter(string name) => own.Contains(name);

    public Node LmHeadWeight(Ops ops, bool trainable = true) => ops.Parameter(Parameters[LmHeadWeightName], trainable);

    public KvCache CreateKvCache(int batchSize, int capacity) =>
        new(Config.LayerCount, Config.KeyValueHeadCount, Config.HeadDim, Config.ContextLength, batchSize, capacity);

    /// <inheritdoc/>
    public Node Forward(Ops ops, int[] tokenIds, int[] positionIds, Tensor? keyMask, int batch, int tokens,
        bool trainable = true, KvCache? cache = null, InferenceWeights? packed = null)
    {
        CausalLm.CheckForward(this, tokenIds, positionIds, batch, tokens, trainable, packed);
        packed ??= FrozenBaseWeights;
        Node P(Ops o, string name) => o.Parameter(Parameters[name], trainable);
        Node? OptionalP(Ops o, string? name) => name is null ? null : P(o, name);
        var adapters = Adapters;
        adapters?.BeginForward(trainable);
        Node Linear(Ops o, Node input, string weight, string? bias)
        {
            if (packed is null && adapters is not null) return adapters.Linear(o, input, weight, P(o, weight), OptionalP(o, bias), trainable);
            var output = packed is null ? o.LinearOutIn(input, P(o, weight), OptionalP(o, bias)) : o.PackedLinear(input, packed[weight], OptionalP(o, bias));
            return adapters is null ? output : adapters.Apply(o, input, weight, output, trainable);
        }
        int start = 0;
        if (cache is not null)
        {
            if (cache.BatchSize != batch) throw new ArgumentException($"The KV cache holds {cache.BatchSize} rows, not {batch}.");
            start = cache.Length;
            cache.SetMask(keyMask is null ? default : keyMask.Span, tokens);
        }
        int heads = Config.HeadCount, kvHeads = Config.KeyValueHeadCount, headDim = Config.HeadDim;
        float epsilon = Config.RmsNormEpsilon;

        // Decoder layer i: x + attn(norm(x)), then + mlp(norm(·)); run through a checkpoint when training with recomputation.
        Node Block(Ops o, Node x, int i)
        {
            var n = blocks[i];
            var h = o.RmsNorm(x, P(o, n.InputNorm), epsilon);
            var q = o.Rotary(Linear(o, h, n.Q, n.QBias), cos, sin, positionIds, heads, headDim);
            var k = o.Rotary(Linear(o, h, n.K, n.KBias), cos, sin, positionIds, kvHeads, headDim);
            var v = Linear(o, h, n.V, n.VBias);
            var attention = cache is null
                ? o.GroupedAttention(q, k, v, keyMask, batch, tokens, heads, kvHeads, headDim)
                : o.CachedGroupedAttention(q, k, v, cache.Keys[i], cache.Values[i], cache.KeyMask, batch, tokens, start, heads, kvHeads, headDim);
            x = o.Add(x, Linear(o, attention, n.O, n.OBias));
            h = o.RmsNorm(x, P(o, n.PostNorm), epsilon);
            var gated = o.SwiGlu(Linear(o, h, n.Gate, n.GateBias), Linear(o, h, n.Up, n.UpBias));
            return o.Add(x, Linear(o, gated, n.Down, n.DownBias));
        }

        var x = ops.TokenEmbedding(P(ops, EmbeddingName), tokenIds);
        // Training with recomputation, or a forward without the tape (eval, a frozen reference): blocks run as segments
        // that keep only their outputs. Decoding with a KV cache runs them directly.
        bool segmented = cache is null && (GradientCheckpointing || !ops.Tape.Enabled);
        for (int i = 0; i < Config.LayerCount; i++)
            x = segmented ? BlockCheckpoint.Run(ops, x, i, Block) : Block(ops, x, i);
        if (cache is not null) cache.Length += tokens;
        return ops.RmsNorm(x, P(ops, NormName), epsilon);
    }

    /// <summary>Writes config.json and the weights (model.safetensors or shards; see <see cref="WeightsFormat"/>).</summary>
    public void Save(string directory, Func<string, bool>? include = null)
    {
        Directory.CreateDirectory(directory);
        if (Adapters is not null)
        {
            Lora.PeftAdapterFolder.Save(Adapters, directory, include);
            Config.Save(Path.Combine(directory, ICausalLm.ConfigFileName));
            return;
        }
        CheckpointWriter.Save(directory, Parameters.Parameters.Where(p => !Lora.LoraAdapters.IsAdapterParameter(p.Name) && (include?.Invoke(p.Name) ?? true)).Select(p => (p.Name, p.Value)).ToList(),
            WeightsFormat);
        (Config with { TorchDtype = WeightsFormat.BFloat16 ? "bfloat16" : "float32" }).Save(Path.Combine(directory, ICausalLm.ConfigFileName));
    }

    public Lora.LoraAdapters? Adapters { get; set; }

    public IReadOnlyList<string> LoadWeights(string directory, IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null)
    {
        if (Adapters is not null) return Lora.PeftAdapterFolder.Load(Adapters, directory, optional);
        using var reader = CheckpointReader.Open(directory);
        return LoadWeights(reader, optional, ignoreExtra);
    }

    /// <summary>
    /// Reads the parameters; names with and without <c>model.</c> are accepted, rotary <c>inv_freq</c> buffers are
    /// skipped, and with a tied head a saved <c>lm_head.weight</c> must equal <c>embed_tokens</c>.
    /// </summary>
    public IReadOnlyList<string> LoadWeights(CheckpointReader reader, IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null) =>
        CheckpointLoader.Load(reader, Parameters, Names, optional, ignoreExtra,
            Config.TieWordEmbeddings ? [(SeparateHeadName, EmbeddingName)] : null);

    private static readonly CheckpointNames Names = new(
        name => name.StartsWith(Prefix, StringComparison.Ordinal) ? CheckpointLoader.WithOrWithoutPrefix(name, Prefix) : [name],
        name => name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal),
        $"(looked for each 'model.' name with and without that prefix)");

    /// <inheritdoc/>
    public bool GradientCheckpointing { get; set; }

    /// <inheritdoc/>
    public InferenceWeights? FrozenBaseWeights { get; set; }

    public void Dispose()
    {
        FrozenBaseWeights?.Dispose();
        Parameters.Dispose();
        rotarySlab.Dispose();
    }

    // Parameter names of block i, built once (Forward runs per decoded token; no string building there).
    private sealed record BlockNames(string InputNorm, string Q, string? QBias, string K, string? KBias, string V, string? VBias,
        string O, string? OBias, string PostNorm, string Gate, string? GateBias, string Up, string? UpBias, string Down, string? DownBias)
    {
        public static BlockNames For(int i, LlamaConfig config)
        {
            string p = $"model.layers.{i}.", a = p + "self_attn.", m = p + "mlp.";
            string? Bias(bool present, string name) => present ? name : null;
            return new(p + "input_layernorm.weight",
                a + "q_proj.weight", Bias(config.QkvBias, a + "q_proj.bias"),
                a + "k_proj.weight", Bias(config.QkvBias, a + "k_proj.bias"),
                a + "v_proj.weight", Bias(config.QkvBias, a + "v_proj.bias"),
                a + "o_proj.weight", Bias(config.OutputBias, a + "o_proj.bias"),
                p + "post_attention_layernorm.weight",
                m + "gate_proj.weight", Bias(config.MlpBias, m + "gate_proj.bias"),
                m + "up_proj.weight", Bias(config.MlpBias, m + "up_proj.bias"),
                m + "down_proj.weight", Bias(config.MlpBias, m + "down_proj.bias"));
        }
    }
}
