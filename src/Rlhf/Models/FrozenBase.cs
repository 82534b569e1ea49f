// A LoRA model's frozen base held only in bfloat16 (--base-dtype bfloat16 with --use-peft; TRL/PEFT users load the base
// with torch_dtype=bfloat16): every frozen linear weight is packed once into bf16 panels, which serve the forward and
// the backward to the activations (fp32 products and sums), and its fp32 storage is given back to the system. The
// adapters, heads and the token embedding / LM head stay fp32; the reference (adapters off) runs on the same panels.
using Rlhf.Tensors;

namespace Rlhf.Models;

internal static class FrozenBase
{
    /// <summary>
    /// Packs <paramref name="model"/>'s linear weights in <paramref name="precision"/> and releases their fp32 pages, one
    /// matrix at a time (so the fp32 and packed copies of the whole model never coexist); from then on every forward
    /// of the model (and of its adapters' base view) runs them packed. Needs LoRA adapters attached (the weights must be
    /// frozen) and AVX-512. After this the model saves only its adapter folder; it cannot be merged or fully saved.
    /// </summary>
    public static void Enable(ICausalLm model, WeightPrecision precision)
    {
        if (precision == WeightPrecision.Float32) return;
        if (model.FrozenBaseWeights is not null) throw new InvalidOperationException("The model's base is already packed.");
        if (model.Adapters is null)
            throw new ArgumentException("--base-dtype bfloat16 stores a frozen base: it needs --use-peft or --adapter (fully trained weights stay float32).");
        if (!InferenceWeights.Supported)
            throw new PlatformNotSupportedException("A bfloat16 frozen base needs a CPU with AVX-512 (the packed bf16 kernels); use --base-dtype float32 here.");
        var parameters = model.Parameters;
        foreach (var (name, _) in model.LinearWeights)
            if (!parameters[name].Frozen)
                throw new ArgumentException($"--base-dtype bfloat16 packs the frozen linear weights, but '{name}' is trained.");
        model.FrozenBaseWeights = InferenceWeights.PackLinear(model, precision, name => parameters[name].Value.Discard());
    }
}
