// Reward model: a causal-LM backbone and a scalar head on one pooled token, saved in transformers'
// *ForSequenceClassification layout (score.weight [1, C], num_labels 1).
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>Which token's state the scalar head reads.</summary>
public enum RewardPooling
{
    /// <summary>
    /// transformers' <c>*ForSequenceClassification</c> rule: the last position whose id is not <c>pad_token_id</c>
    /// (with pad = EOS, the token before a trailing EOS; TRL's PPO scores the same one); the last attention-mask token
    /// only when no pad id is set.
    /// </summary>
    LastToken,
    /// <summary>The first real token.</summary>
    FirstToken,
    /// <summary>The mean over real tokens.</summary>
    Mean,
}

internal sealed class RewardModel : IDisposable
{
    public const string HeadName = "score.weight";
    public const string RewardConfigFileName = "reward_config.json";

    public ICausalLm Model { get; }
    public RewardPooling Pooling { get; }

    /// <summary>
    /// transformers' <c>config.pad_token_id</c>: positions holding it are never scored by <see cref="RewardPooling.LastToken"/>.
    /// <see cref="Save"/> writes it to config.json. Null (a folder without one): the attention mask decides.
    /// </summary>
    public int? PadTokenId { get; set; }

    private RewardModel(ICausalLm model, RewardPooling pooling, int? padTokenId)
    {
        Model = model;
        Pooling = pooling;
        PadTokenId = padTokenId;
    }

    public static (string Name, int[] Shape, bool Decay) Head(CausalLmConfig config) => (HeadName, [1, config.HiddenSize], true);

    /// <summary>A reward model from a causal LM folder: its backbone and a fresh head N(0, initializer_range).</summary>
    public static RewardModel FromCausalLm(string directory, RewardPooling pooling, ulong seed)
    {
        var config = CausalLmRegistry.LoadConfig(CausalLmRegistry.RequireFiles(directory));
        var model = CausalLmRegistry.Load(directory, [Head(config)], seed, c => c.AsSequenceClassifier());
        // The textbook: reward_model.config.pad_token_id = eos_token_id.
        return new RewardModel(model, pooling, config.PadTokenId ?? config.EosTokenId);
    }

    /// <summary>A fresh reward model around an existing backbone configuration (tests, demos).</summary>
    public static RewardModel CreateRandom(CausalLmConfig config, RewardPooling pooling, ulong seed) =>
        new(CausalLmRegistry.CreateRandom(config.AsSequenceClassifier(), seed, [Head(config)]), pooling, config.PadTokenId ?? config.EosTokenId);

    /// <summary>Loads a folder saved by <see cref="Save"/> (or by transformers' *ForSequenceClassification).</summary>
    public static RewardModel Load(string directory, RewardPooling? pooling = null)
    {
        string configPath = Path.Combine(directory, ICausalLm.ConfigFileName);
        if (!File.Exists(configPath)) throw new ModelFormatException(configPath, "The reward-model folder has no config.json.");
        var config = CausalLmRegistry.LoadConfig(configPath);
        if (!config.IsSequenceClassifier)
            throw new ModelFormatException(configPath,
                $"This is a {config.Architecture} folder, not a reward model ({config.SequenceClassificationArchitectureName}); train one with `rlhf reward`.");
        var model = CausalLmRegistry.Load(directory, [Head(config)]);
        using (var file = CheckpointReader.Open(directory))
        {
            if (!file.Tensors.ContainsKey(HeadName))
            {
                model.Dispose();
                throw new ModelFormatException(file.Path, $"The reward model has no '{HeadName}' tensor.");
            }
        }
        return new RewardModel(model, pooling ?? ReadPooling(directory), config.PadTokenId);
    }

    /// <summary>Loads a reward model folder as it is, or puts a fresh head on a causal LM folder.</summary>
    public static RewardModel LoadOrCreate(string directory, RewardPooling pooling, ulong seed)
    {
        var config = CausalLmRegistry.LoadConfig(Path.Combine(directory, ICausalLm.ConfigFileName));
        return config.IsSequenceClassifier ? Load(directory, pooling) : FromCausalLm(directory, pooling, seed);
    }

    public void Save(string directory)
    {
        Model.Save(directory);
        if (PadTokenId != Model.Config.PadTokenId) // every reward folder records the pad id it was scored with (PITFALLS #4)
            (Model.Config with { PadTokenId = PadTokenId }).Save(Path.Combine(directory, ICausalLm.ConfigFileName));
        var json = new JsonObject { ["pooling"] = PoolingName(Pooling) };
        AtomicFile.Write(Path.Combine(directory, RewardConfigFileName), stream => JsonSerializer.Serialize(stream, json));
    }

    /// <summary>Rewards [B] for a padded batch (any padding side); gradients flow to the backbone and head.</summary>
    public Node Rewards(Ops ops, CausalLmBatch batch, bool trainable = true)
    {
        var hidden = CausalLm.Hidden(Model, ops, batch, trainable);
        var weights = PoolingWeights(ops.Arena, batch.TokenIds, batch.AttentionMask, batch.BatchSize, batch.SequenceLength, Pooling, PadTokenId);
        var pooled = ops.Pool(hidden, weights, batch.BatchSize, batch.SequenceLength);
        // score.weight is nn.Linear's [1, C]; with one output that is the same memory as Conv1D's [C, 1].
        var head = ops.ParameterView(Model.Parameters[HeadName], [Model.Config.HiddenSize, 1], trainable);
        return ops.Linear(pooled, head, null);
    }

    /// <summary>
    /// [B, T] pooling weights: one-hot at <see cref="LastScoredPosition"/> (last), at the first real token (first), or
    /// 1/n over the n real tokens (mean); real tokens come from the attention mask (PITFALLS #1, #2, #4).
    /// </summary>
    public static Tensor PoolingWeights(Arena arena, int[] tokenIds, float[] attentionMask, int batch, int tokens, RewardPooling pooling, int? padTokenId)
    {
        var weights = arena.Allocate(batch, tokens);
        var span = weights.Span;
        for (int b = 0; b < batch; b++)
        {
            var mask = attentionMask.AsSpan(b * tokens, tokens);
            int first = mask.IndexOfAnyExcept(0f), count = tokens - mask.Count(0f);
            if (count == 0) throw new ArgumentException($"Sequence {b} of the batch has no real tokens to score.");
            switch (pooling)
            {
                case RewardPooling.LastToken: span[b * tokens + LastScoredPosition(tokenIds.AsSpan(b * tokens, tokens), mask, padTokenId)] = 1; break;
                case RewardPooling.FirstToken: span[b * tokens + first] = 1; break;
                default:
                    for (int t = 0; t < tokens; t++) if (mask[t] != 0) span[b * tokens + t] = 1f / count;
                    break;
            }
        }
        return weights;
    }

    /// <summary>
    /// transformers' GPT2ForSequenceClassification: <c>(arange(T) * (input_ids != pad_token_id)).argmax(-1)</c>, i.e. the
    /// last position whose id is not the pad id (0 when every id is the pad id); without a pad id, the last position
    /// the attention mask keeps.
    /// </summary>
    public static int LastScoredPosition(ReadOnlySpan<int> tokenIds, ReadOnlySpan<float> attentionMask, int? padTokenId)
    {
        if (padTokenId is int pad)
            return Math.Max(0, tokenIds.LastIndexOfAnyExcept(pad));
        return attentionMask.LastIndexOfAnyExcept(0f);
    }

    public static RewardPooling ParsePooling(string name) => name.Trim().ToLowerInvariant() switch
    {
        "last" or "last_token" or "lasttoken" => RewardPooling.LastToken,
        "first" or "first_token" or "firsttoken" => RewardPooling.FirstToken,
        "mean" => RewardPooling.Mean,
        _ => throw new ArgumentException($"Unknown pooling '{name}' (use last, first or mean)."),
    };

    public static string PoolingName(RewardPooling pooling) => pooling switch
    {
        RewardPooling.LastToken => "last",
        RewardPooling.FirstToken => "first",
        _ => "mean",
    };

    internal static RewardPooling ReadPooling(string directory)
    {
        string path = Path.Combine(directory, RewardConfigFileName);
        if (!File.Exists(path)) return RewardPooling.LastToken;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            return node?["pooling"] is JsonValue value && value.TryGetValue(out string? name) ? ParsePooling(name) : RewardPooling.LastToken;
        }
        catch (JsonException error)
        {
            throw new ModelFormatException(path, $"is not valid JSON ({JsonText.Describe(error)}).", error);
        }
    }

    public void Dispose() => Model.Dispose();
}
