// --base-dtype for the trainers: with LoRA (--use-peft or --adapter) the model's frozen base is held once in bfloat16
// and the reference is that base with the adapters off; without LoRA, dpo's and ppo's frozen reference has its
// linear layers packed once in bfloat16. Half the bytes of those matrices, no fp32 copy; products and sums in fp32.
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tensors;

namespace Rlhf.Cli.Commands;

internal sealed class FrozenReferenceOptions
{
    public Option<string> BaseDtype { get; } = new("--base-dtype")
    {
        Description = "Storage of the frozen linear weights: float32, or bfloat16 (packed once, half the bytes; fp32 sums). With --use-peft/--adapter " +
            "the model's frozen base (and so the reference); otherwise the reference's (dpo, ppo).",
        DefaultValueFactory = _ => "float32",
    };

    public void AddTo(Command command) => command.Options.Add(BaseDtype);

    /// <summary>Checks the value before any data or model is loaded.</summary>
    public WeightPrecision Resolve(CommandSettings settings) => FrozenCopy.ParseDtype(settings.Get(BaseDtype)!);

    /// <summary>
    /// As <see cref="Resolve(CommandSettings)"/>, for a trainer whose only frozen weights would be a LoRA base
    /// (<paramref name="lora"/>: --use-peft or --adapter given): bfloat16 without LoRA is an error.
    /// </summary>
    public WeightPrecision Resolve(CommandSettings settings, bool lora, bool hasReference)
    {
        var precision = Resolve(settings);
        if (precision != WeightPrecision.Float32 && !lora && !hasReference)
            throw new ArgumentException("--base-dtype bfloat16 stores a frozen base: it needs --use-peft or --adapter (fully trained weights stay float32).");
        return precision;
    }

    /// <summary>With LoRA adapters, holds the model's frozen base in <paramref name="precision"/> (<see cref="LoraSetup.PackBase"/>).</summary>
    public static void PackBase(WeightPrecision precision, ICausalLm model, LoraAdapters? adapters) => LoraSetup.PackBase(model, adapters, precision);

    /// <summary>
    /// The reference of a policy that may carry LoRA adapters: with adapters and no --ref-model, the policy's own base
    /// with the adapters off (TRL with a PEFT model: no second copy; in bf16 when <see cref="PackBase"/> packed it);
    /// otherwise <see cref="Load"/>.
    /// </summary>
    public static (ICausalLm Model, InferenceWeights? Weights) Load(WeightPrecision precision, ICausalLm policy, LoraAdapters? adapters,
        string modelDir, string? referenceDir)
    {
        if (adapters is null || referenceDir is not null) return Load(precision, policy, modelDir, referenceDir);
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
