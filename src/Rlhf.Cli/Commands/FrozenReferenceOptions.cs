// --base-dtype for the trainers with a frozen reference (dpo, ppo): the reference in fp32, or with its linear layers
// packed once in bfloat16 (half their bytes, no fp32 copy; products and sums in fp32).
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tensors;

namespace Rlhf.Cli.Commands;

internal sealed class FrozenReferenceOptions
{
    public Option<string> BaseDtype { get; } = new("--base-dtype")
    {
        Description = "Storage of the frozen reference's linear layers: float32, or bfloat16 (packed once, half the bytes; fp32 sums).",
        DefaultValueFactory = _ => "float32",
    };

    public void AddTo(Command command) => command.Options.Add(BaseDtype);

    /// <summary>Checks the value before any data or model is loaded.</summary>
    public WeightPrecision Resolve(CommandSettings settings) => FrozenCopy.ParseDtype(settings.Get(BaseDtype)!);

    /// <summary>
    /// The reference of a policy that may carry LoRA adapters: with adapters and no --ref-model, the policy's own base
    /// with the adapters off (TRL with a PEFT model: no second copy; its storage stays float32 for now); otherwise
    /// <see cref="Load"/>.
    /// </summary>
    public static (ICausalLm Model, InferenceWeights? Weights) Load(WeightPrecision precision, ICausalLm policy, LoraAdapters? adapters,
        string modelDir, string? referenceDir)
    {
        if (adapters is null || referenceDir is not null) return Load(precision, policy, modelDir, referenceDir);
        if (precision != WeightPrecision.Float32)
            throw new ArgumentException("--base-dtype bfloat16 with --use-peft and no --ref-model (the reference is then the base without its adapters) is not supported yet; use float32, or give --ref-model.");
        return (adapters.BaseModel, null);
    }

    /// <summary>
    /// The reference: <paramref name="referenceDir"/> (else <paramref name="modelDir"/>) in fp32, or a bf16 frozen copy of
    /// it (of the policy's starting weights when no --ref-model was given: no second load).
    /// </summary>
    public static (ICausalLm Model, InferenceWeights? Weights) Load(WeightPrecision precision, ICausalLm policy, string modelDir, string? referenceDir)
    {
        if (precision == WeightPrecision.Float32) return (CausalLmRegistry.Load(referenceDir ?? modelDir), null);
        if (referenceDir is null) return FrozenCopy.Create(policy, precision);
        using var loaded = CausalLmRegistry.Load(referenceDir);
        return FrozenCopy.Create(loaded, precision);
    }
}
