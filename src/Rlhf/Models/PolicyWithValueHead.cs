// A causal LM with a value head (one scalar per position) sharing its backbone, for PPO. The value head is saved
// beside the policy in value_head.safetensors, so the policy folder stays a plain GPT2LMHeadModel.
using Rlhf.Tensors;

namespace Rlhf.Models;

public sealed class PolicyWithValueHead : IDisposable
{
    public const string WeightName = "v_head.summary.weight";
    public const string BiasName = "v_head.summary.bias";
    public const string ValueHeadFileName = "value_head.safetensors";

    public Gpt2Model Model { get; }

    private PolicyWithValueHead(Gpt2Model model) => Model = model;

    public static IEnumerable<(string Name, int[] Shape, bool Decay)> Heads(Gpt2Config config) =>
        [(WeightName, [1, config.EmbeddingSize], true), (BiasName, [1], false)];

    /// <summary>
    /// Loads a causal LM folder; its value head comes from value_head.safetensors when present (a PPO output or
    /// checkpoint), else starts fresh (weight N(0, initializer_range), bias 0).
    /// </summary>
    public static PolicyWithValueHead Load(string directory, ulong seed)
    {
        var config = Gpt2Config.Load(Path.Combine(directory, Gpt2Model.ConfigFileName));
        var model = new Gpt2Model(config, Heads(config));
        try
        {
            Gpt2Checkpoint.LoadWeights(Path.Combine(directory, Gpt2Model.WeightsFileName), model.Parameters,
                new HashSet<string> { WeightName, BiasName }, name => !Gpt2Model.IsBackbone(name));
            string valuePath = Path.Combine(directory, ValueHeadFileName);
            if (File.Exists(valuePath)) LoadValueHead(valuePath, model.Parameters);
            else new Rng(seed).FillNormal(model.Parameters[WeightName].Value.Span, 0, config.InitializerRange);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new PolicyWithValueHead(model);
    }

    public static PolicyWithValueHead CreateRandom(Gpt2Config config, ulong seed) => new(Gpt2Model.CreateRandom(config, seed, Heads(config)));

    /// <summary>The backbone and LM head to model.safetensors (+ config.json), the value head to value_head.safetensors.</summary>
    public void Save(string directory)
    {
        Model.Save(directory, Gpt2Model.IsBackbone);
        SafeTensors.Write(Path.Combine(directory, ValueHeadFileName),
            [(WeightName, Model.Parameters[WeightName].Value), (BiasName, Model.Parameters[BiasName].Value)],
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Reloads every weight (backbone and value head) from a folder written by <see cref="Save"/>.</summary>
    public void LoadWeights(string directory)
    {
        Gpt2Checkpoint.LoadWeights(Path.Combine(directory, Gpt2Model.WeightsFileName), Model.Parameters,
            new HashSet<string> { WeightName, BiasName });
        LoadValueHead(Path.Combine(directory, ValueHeadFileName), Model.Parameters);
    }

    private static void LoadValueHead(string path, ParameterSet parameters)
    {
        using var file = SafeTensors.Open(path);
        foreach (var name in new[] { WeightName, BiasName })
        {
            if (!file.Tensors.TryGetValue(name, out var info))
                throw new ModelFormatException(path, $"The value head has no '{name}' tensor.");
            if (!info.Shape.SequenceEqual(parameters[name].Value.Shape))
                throw new ModelFormatException(path, $"'{name}' has shape {info.ShapeText}, expected {SafeTensors.FormatShape(parameters[name].Value.Shape)}.");
        }
        foreach (var name in new[] { WeightName, BiasName }) file.ReadInto(name, parameters[name].Value.Span);
    }

    /// <summary>
    /// Per-position log-probs of the batch's targets (logits / temperature, as sampled) and values [B·T, 1]; optionally
    /// the entropy of each position's distribution.
    /// </summary>
    public (Node LogProbs, Node Values) Forward(Ops ops, CausalLmBatch batch, float temperature, Tensor? entropy = null, bool trainable = true)
    {
        var embedding = Model.TokenEmbedding(ops, trainable);
        var hidden = Model.Forward(ops, embedding, batch.TokenIds, batch.PositionIds, batch.KeyMask(ops.Arena), batch.BatchSize, batch.SequenceLength, trainable);
        var scaled = temperature == 1f ? hidden : ops.Scale(hidden, 1f / temperature);
        var logProbs = ops.TokenLogProbs(scaled, embedding, batch.Targets, entropy);
        var head = ops.ParameterView(Model.Parameters[WeightName], [Model.Config.EmbeddingSize, 1], trainable);
        var values = ops.Linear(hidden, head, ops.Parameter(Model.Parameters[BiasName], trainable));
        return (logProbs, values);
    }

    public void Dispose() => Model.Dispose();
}
