// The base of a LoRA model as a model of its own: the same weights with the adapters switched off, so DPO's, PPO's and
// GRPO's reference needs no second copy (TRL with a PEFT model: the reference is the policy with adapters disabled).
using Rlhf.Tensors;

namespace Rlhf.Models.Lora;

/// <summary>The adapted model seen without its adapters (bit for bit its base); disposing it leaves the model alone.</summary>
internal sealed class LoraBaseView(LoraAdapters adapters) : ICausalLm
{
    private ICausalLm Inner => adapters.Model;

    public CausalLmConfig Config => Inner.Config;
    public ParameterSet Parameters => Inner.Parameters;
    public bool IsOwnParameter(string name) => Inner.IsOwnParameter(name);
    public string LmHeadWeightName => Inner.LmHeadWeightName;
    public IReadOnlyList<(string Name, MatrixLayout Layout)> LinearWeights => Inner.LinearWeights;
    public KvCache CreateKvCache(int batchSize, int capacity) => Inner.CreateKvCache(batchSize, capacity);
    public Node LmHeadWeight(Ops ops, bool trainable = true) => Inner.LmHeadWeight(ops, trainable);

    public Node Forward(Ops ops, int[] tokenIds, int[] positionIds, Tensor? keyMask, int batch, int tokens,
        bool trainable = true, KvCache? cache = null, InferenceWeights? packed = null)
    {
        using (adapters.Disable())
            return Inner.Forward(ops, tokenIds, positionIds, keyMask, batch, tokens, trainable, cache, packed);
    }

    public bool GradientCheckpointing
    {
        get => Inner.GradientCheckpointing;
        set => Inner.GradientCheckpointing = value;
    }

    public InferenceWeights? FrozenBaseWeights
    {
        get => Inner.FrozenBaseWeights;
        set => throw new InvalidOperationException("The base view of a LoRA model shares the model's frozen base.");
    }

    public LoraAdapters? Adapters
    {
        get => null;
        set => throw new InvalidOperationException("The base view of a LoRA model takes no adapters.");
    }

    public CheckpointFormat WeightsFormat
    {
        get => Inner.WeightsFormat;
        set => throw new InvalidOperationException("The base view of a LoRA model is not saved.");
    }

    public void Save(string directory, Func<string, bool>? include = null) =>
        throw new InvalidOperationException("The base view of a LoRA model is not saved.");

    public IReadOnlyList<string> LoadWeights(string directory, IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null) =>
        throw new InvalidOperationException("The base view of a LoRA model loads nothing.");

    public void Dispose()
    {
        // The weights belong to the adapted model.
    }
}
