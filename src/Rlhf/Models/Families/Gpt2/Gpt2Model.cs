// GPT-2 (Radford et al. 2019) on our kernels: embeddings, pre-LN blocks, final LayerNorm, LM head tied to wte.
using Rlhf.Tensors;

namespace Rlhf.Models.Gpt2;

/// <summary>
/// A GPT-2 backbone whose parameters carry Hugging Face names, so checkpoints move between this project and
/// transformers unchanged. <see cref="Forward"/> returns the final hidden states; heads (LM, reward, value)
/// are applied by the caller on top of them.
/// </summary>
internal sealed class Gpt2Model : ICausalLm
{
    public const string WeightsFileName = ICausalLm.WeightsFileName;
    public const string ConfigFileName = ICausalLm.ConfigFileName;
    private const string TokenEmbeddingName = "transformer.wte.weight";

    public Gpt2Config Config { get; }
    CausalLmConfig ICausalLm.Config => Config;
    public ParameterSet Parameters { get; }
    private readonly BlockNames[] blockNames;

    /// <param name="heads">Extra parameters stored in the same set (so one optimizer covers them), e.g. a reward
    /// model's <c>score.weight</c> or PPO's value head.</param>
    public Gpt2Model(Gpt2Config config, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null)
    {
        config.Validate();
        Config = config;
        Parameters = new ParameterSet(Layout(config).Concat(heads ?? []));
        blockNames = Enumerable.Range(0, config.LayerCount).Select(BlockNames.For).ToArray();
        LinearWeights = blockNames.SelectMany(n => new[] { n.AttentionWeight, n.ProjectionWeight, n.UpWeight, n.DownWeight })
            .Select(name => (name, MatrixLayout.InputMajor)).ToArray();
    }

    /// <summary>Every Conv1D weight ([in, out]).</summary>
    public IReadOnlyList<(string Name, MatrixLayout Layout)> LinearWeights { get; }

    /// <summary>The head is tied: wte [V, C].</summary>
    public string LmHeadWeightName => TokenEmbeddingName;

    public bool IsOwnParameter(string name) => IsBackbone(name);

    /// <summary>True for parameters of the transformer itself (not a head).</summary>
    public static bool IsBackbone(string name) =>
        name.StartsWith(Gpt2Checkpoint.Prefix, StringComparison.Ordinal) || name.StartsWith("h.", StringComparison.Ordinal)
        || name.StartsWith("wte.", StringComparison.Ordinal) || name.StartsWith("wpe.", StringComparison.Ordinal)
        || name.StartsWith("ln_f.", StringComparison.Ordinal);

    /// <summary>Every parameter: HF name, shape (Conv1D weights are [in, out]) and whether AdamW decays it.</summary>
    public static IEnumerable<(string Name, int[] Shape, bool Decay)> Layout(Gpt2Config config)
    {
        int c = config.EmbeddingSize;
        yield return ("transformer.wte.weight", [config.VocabSize, c], true);
        yield return ("transformer.wpe.weight", [config.ContextLength, c], true);
        for (int i = 0; i < config.LayerCount; i++)
        {
            string prefix = $"transformer.h.{i}.";
            yield return (prefix + "ln_1.weight", [c], false);
            yield return (prefix + "ln_1.bias", [c], false);
            yield return (prefix + "attn.c_attn.weight", [c, 3 * c], true);
            yield return (prefix + "attn.c_attn.bias", [3 * c], false);
            yield return (prefix + "attn.c_proj.weight", [c, c], true);
            yield return (prefix + "attn.c_proj.bias", [c], false);
            yield return (prefix + "ln_2.weight", [c], false);
            yield return (prefix + "ln_2.bias", [c], false);
            yield return (prefix + "mlp.c_fc.weight", [c, 4 * c], true);
            yield return (prefix + "mlp.c_fc.bias", [4 * c], false);
            yield return (prefix + "mlp.c_proj.weight", [4 * c, c], true);
            yield return (prefix + "mlp.c_proj.bias", [c], false);
        }
        yield return ("transformer.ln_f.weight", [c], false);
        yield return ("transformer.ln_f.bias", [c], false);
    }

    /// <summary>
    /// Random initialisation as transformers' GPT2PreTrainedModel: weights and embeddings N(0, σ), residual
    /// projections (c_proj) N(0, σ/√(2·n_layer)), biases 0, LayerNorm weights 1.
    /// </summary>
    public static Gpt2Model CreateRandom(Gpt2Config config, ulong seed, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null)
    {
        var model = new Gpt2Model(config, heads);
        var rng = new Rng(seed);
        double std = config.InitializerRange;
        foreach (var parameter in model.Parameters.Parameters)
        {
            var values = parameter.Value.Span;
            if (parameter.Name.EndsWith(".bias", StringComparison.Ordinal)) values.Clear();
            else if (parameter.Name.Contains(".ln_", StringComparison.Ordinal)) values.Fill(1f);
            else if (parameter.Name.EndsWith("c_proj.weight", StringComparison.Ordinal)) rng.FillNormal(values, 0, std / Math.Sqrt(2.0 * config.LayerCount));
            else rng.FillNormal(values, 0, std);
        }
        return model;
    }

    /// <summary>Loads a GPT-2 folder (see <see cref="CausalLmRegistry.Load"/> for any family).</summary>
    public static Gpt2Model Load(string directory, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null, ulong headSeed = 0,
        Func<Gpt2Config, Gpt2Config>? configOverride = null)
    {
        var config = Gpt2Config.Load(CausalLmRegistry.RequireFiles(directory));
        ModelMemory.RequireFits(directory, config);
        var headList = heads?.ToList() ?? [];
        return CausalLmRegistry.FillFromFolder(new Gpt2Model(configOverride?.Invoke(config) ?? config, headList), directory, headList, headSeed);
    }

    /// <summary>Writes config.json and the weights (each file atomically; see <see cref="WeightsFormat"/>) into <paramref name="directory"/>.</summary>
    /// <param name="include">Which parameters to write (default: all).</param>
    public void Save(string directory, Func<string, bool>? include = null)
    {
        if (Adapters is not null)
        {
            Lora.PeftAdapterFolder.Save(Adapters, directory, include);
            Config.Save(Path.Combine(directory, ConfigFileName));
            return;
        }
        CheckpointWriter.Save(directory, Parameters.Parameters.Where(p => !Lora.LoraAdapters.IsAdapterParameter(p.Name) && (include?.Invoke(p.Name) ?? true)).Select(p => (p.Name, p.Value)).ToList(),
            WeightsFormat);
        Config.Save(Path.Combine(directory, ConfigFileName));
    }

    public CheckpointFormat WeightsFormat { get; set; } = CheckpointFormat.Default;

    public Lora.LoraAdapters? Adapters { get; set; }

    public IReadOnlyList<string> LoadWeights(string directory, IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null)
    {
        if (Adapters is not null) return Lora.PeftAdapterFolder.Load(Adapters, directory, optional);
        using var reader = CheckpointReader.Open(directory);
        return Gpt2Checkpoint.LoadWeights(reader, Parameters, optional, ignoreExtra);
    }

    public KvCache CreateKvCache(int batchSize, int capacity) =>
        new(Config.LayerCount, Config.HeadCount, Config.HeadSize, Config.ContextLength, batchSize, capacity);

    /// <summary>The token embedding as a node: the input embedding and the tied LM head.</summary>
    public Node TokenEmbedding(Ops ops, bool trainable = true) => ops.Parameter(Parameters[TokenEmbeddingName], trainable);

    public Node LmHeadWeight(Ops ops, bool trainable = true) => TokenEmbedding(ops, trainable);

    /// <inheritdoc/>
    public Node Forward(Ops ops, int[] tokenIds, int[] positionIds, Tensor? keyMask, int batch, int tokens,
        bool trainable = true, KvCache? cache = null, InferenceWeights? packed = null)
    {
        CausalLm.CheckForward(this, tokenIds, positionIds, batch, tokens, trainable, packed);
        packed ??= FrozenBaseWeights;
        Node P(Ops o, string name) => o.Parameter(Parameters[name], trainable);
        var adapters = Adapters;
        adapters?.BeginForward(trainable);
        Node Linear(Ops o, Node input, string weight, string bias)
        {
            if (packed is null && adapters is not null) return adapters.Linear(o, input, weight, P(o, weight), P(o, bias), trainable, weightOutIn: false);
            var output = packed is null ? o.Linear(input, P(o, weight), P(o, bias)) : o.PackedLinear(input, packed[weight], P(o, bias));
            return adapters is null ? output : adapters.Apply(o, input, weight, output, trainable);
        }
        float epsilon = Config.LayerNormEpsilon;
        int start = 0;
        if (cache is not null)
        {
            if (cache.BatchSize != batch) throw new ArgumentException($"The KV cache holds {cache.BatchSize} rows, not {batch}.");
            start = cache.Length;
            cache.SetMask(keyMask is null ? default : keyMask.Span, tokens);
        }

        // Block i: x + attn(ln_1(x)), then + mlp(ln_2(·)); run through a checkpoint when training with recomputation.
        Node Block(Ops o, Node x, int i)
        {
            var n = blockNames[i];
            var h = o.LayerNorm(x, P(o, n.Ln1Weight), P(o, n.Ln1Bias), epsilon);
            var qkv = Linear(o, h, n.AttentionWeight, n.AttentionBias);
            var attention = cache is null
                ? o.Attention(qkv, keyMask, batch, tokens, Config.HeadCount)
                : o.CachedAttention(qkv, cache.Keys[i], cache.Values[i], cache.KeyMask, batch, tokens, start, Config.HeadCount);
            x = o.Add(x, Linear(o, attention, n.ProjectionWeight, n.ProjectionBias));
            h = o.LayerNorm(x, P(o, n.Ln2Weight), P(o, n.Ln2Bias), epsilon);
            var up = o.Gelu(Linear(o, h, n.UpWeight, n.UpBias));
            return o.Add(x, Linear(o, up, n.DownWeight, n.DownBias));
        }

        var x = ops.Embedding(TokenEmbedding(ops, trainable), P(ops, "transformer.wpe.weight"), tokenIds, positionIds);
        // Training with recomputation, or a forward without the tape (eval, a frozen reference): blocks run as segments
        // that keep only their outputs. Decoding with a KV cache runs them directly.
        bool segmented = cache is null && (GradientCheckpointing || !ops.Tape.Enabled);
        for (int i = 0; i < Config.LayerCount; i++)
            x = segmented ? BlockCheckpoint.Run(ops, x, i, Block) : Block(ops, x, i);
        if (cache is not null) cache.Length += tokens;
        return ops.LayerNorm(x, P(ops, "transformer.ln_f.weight"), P(ops, "transformer.ln_f.bias"), epsilon);
    }

    /// <inheritdoc/>
    public bool GradientCheckpointing { get; set; }

    /// <inheritdoc/>
    public InferenceWeights? FrozenBaseWeights { get; set; }

    public void Dispose()
    {
        FrozenBaseWeights?.Dispose();
        Parameters.Dispose();
    }

    // Parameter names of block i, built once (Forward runs per decoded token; no string building there).
    private sealed record BlockNames(string Ln1Weight, string Ln1Bias, string AttentionWeight, string AttentionBias,
        string ProjectionWeight, string ProjectionBias, string Ln2Weight, string Ln2Bias, string UpWeight, string UpBias,
        string DownWeight, string DownBias)
    {
        public static BlockNames For(int i)
        {
            string p = $"transformer.h.{i}.";
            return new(p + "ln_1.weight", p + "ln_1.bias", p + "attn.c_attn.weight", p + "attn.c_attn.bias",
                p + "attn.c_proj.weight", p + "attn.c_proj.bias", p + "ln_2.weight", p + "ln_2.bias",
                p + "mlp.c_fc.weight", p + "mlp.c_fc.bias", p + "mlp.c_proj.weight", p + "mlp.c_proj.bias");
        }
    }
}
