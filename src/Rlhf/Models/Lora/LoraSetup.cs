// How a trainer's model gets its LoRA adapters, for the CLI's --use-peft/--adapter/--base-dtype and the public API's
// LoraConfig alike: a PEFT adapter folder loaded onto the base, or fresh adapters, then the frozen base packed in bf16.
using Rlhf.Tensors;

namespace Rlhf.Models.Lora;

internal static class LoraSetup
{
    /// <summary>
    /// Loads <paramref name="adapterFolder"/> onto <paramref name="model"/> (training continues on it) or attaches fresh
    /// adapters with <paramref name="fresh"/>; null (full fine-tuning) when neither is given.
    /// </summary>
    public static LoraAdapters? Attach(ICausalLm model, LoraOptions? fresh, string? adapterFolder, string modelDirectory, ulong seed, string modelSetting = "--model") =>
        adapterFolder is not null ? PeftAdapterFolder.Attach(model, modelDirectory, adapterFolder, seed, modelSetting: modelSetting)
        : fresh is not null ? LoraAdapters.Attach(model, fresh) : null;

    /// <summary>
    /// With adapters, holds the model's frozen base in <paramref name="precision"/> (<see cref="FrozenBase.Enable"/>); if
    /// that fails (no AVX-512 for bf16) the adapters are detached again, leaving the model as it was.
    /// </summary>
    public static void PackBase(ICausalLm model, LoraAdapters? adapters, WeightPrecision precision)
    {
        if (adapters is null) return;
        try
        {
            FrozenBase.Enable(model, precision);
        }
        catch
        {
            adapters.Detach();
            throw;
        }
    }
}
