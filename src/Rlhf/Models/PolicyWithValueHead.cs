// A causal LM with a value head (one scalar per position) sharing its backbone, for PPO. The value head is saved
// beside the policy in value_head.safetensors, so the policy folder stays a plain causal LM (e.g. GPT2LMHeadModel).
using Rlhf.Tensors;

namespace Rlhf.Models;

internal sealed class PolicyWithValueHead : IDisposable
{
    public const string WeightName = "v_head.summary.weight";
    public const string BiasName = "v_head.summary.bias";
    public const string ValueHeadFileName = "value_head.safetensors";

    public ICausalLm Model { get; }

    private PolicyWithValueHead(ICausalLm model) => Model = model;

    public static IEnumerable<(string Name, int[] Shape, bool Decay)> Heads(CausalLmConfig config) =>
        [(WeightName, [1, config.HiddenSize], true), (BiasName, [1], false)];

    /// <summary>
    /// Loads a causal LM folder; its value head comes from value_head.safetensors when present (a PPO output or
    /// checkpoint), else starts fresh (weight N(0, initializer_range), bias 0).
    /// </summary>
    public static PolicyWithValueHead Load(string directory, ulong seed)
    {
        var config = CausalLmRegistry.LoadConfig(CausalLmRegistry.RequireFiles(directory));
        var model = CausalLmRegistry.Create(config, Heads(config));
        try
        {
            model.LoadWeights(directory, new HashSet<string> { WeightName, BiasName }, name => !model.IsOwnParameter(name));
            string valuePath = Path.Combine(directory, ValueHeadFileName);
            if (File.Exists(valuePath)) LoadValueHead(valuePath, model.Parameters);
            else StartValueHead(model, seed);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new PolicyWithValueHead(model);
    }

    /// <summary>A copy of <paramref name="source"/>'s weights with a fresh value head, as <see cref="Load"/> starts one on a folder without value_head.safetensors.</summary>
    public static PolicyWithValueHead FromModel(ICausalLm source, ulong seed)
    {
        var model = WeightCopy.Clone(source, Heads(source.Config));
        StartValueHead(model, seed);
        return new PolicyWithValueHead(model);
    }

    /// <summary>A fresh value head: weight N(0, initializer_range), bias 0.</summary>
    private static void StartValueHead(ICausalLm model, ulong seed) =>
        new Rng(seed).FillNormal(model.Parameters[WeightName].Value.Span, 0, model.Config.InitializerRange);

    public static PolicyWithValueHead CreateRandom(CausalLmConfig config, ulong seed) => new(CausalLmRegistry.CreateRandom(config, seed, Heads(config)));

    /// <summary>The backbone and LM head to model.safetensors (+ config.json), the value head to value_head.safetensors.</summary>
    public void Save(string directory)
    {
        Model.Save(directory, Model.IsOwnParameter);
        SafeTensors.Write(Path.Combine(directory, ValueHeadFileName),
            [(WeightName, Model.Parameters[WeightName].Value), (BiasName, Model.Parameters[BiasName].Value)],
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Reloads every weight (backbone and value head) from a folder written by <see cref="Save"/>.</summary>
    public void LoadWeights(string directory)
    {
        Model.LoadWeights(directory, new HashSet<string> { WeightName, BiasName });
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
        var hidden = CausalLm.Hidden(Model, ops, batch, trainable);
        var logProbs = CausalLm.TokenLogProbs(Model, ops, hidden, batch, trainable, temperature, entropy);
        var head = ops.ParameterView(Model.Parameters[WeightName], [Model.Config.HiddenSize, 1], trainable);
        var values = ops.Linear(hidden, head, ops.Parameter(Model.Parameters[BiasName], trainable));
        return (logProbs, values);
    }

    public void Dispose() => Model.Dispose();
}
