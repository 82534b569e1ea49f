// A frozen copy of a causal LM whose linear layers are held only as packed weights (e.g. bfloat16): DPO's or PPO's
// reference model at half the bytes of its matrices, with no fp32 copy of them resident.
using Rlhf.Tensors;

namespace Rlhf.Models;

internal static class FrozenCopy
{
    /// <summary>
    /// A model of <paramref name="source"/>'s family and shape holding copies of its embeddings, norms, biases and LM head,
    /// and its linear layers packed in <paramref name="precision"/>: run it with <c>Forward(…, trainable: false, packed:
    /// weights)</c>. Its own fp32 storage for the linear layers is never written, so (large slabs being fresh mappings)
    /// it never becomes resident memory. Needs AVX-512 (<see cref="InferenceWeights.Supported"/>).
    /// </summary>
    public static (ICausalLm Model, InferenceWeights Weights) Create(ICausalLm source, WeightPrecision precision)
    {
        if (!InferenceWeights.Supported)
            throw new PlatformNotSupportedException("A bfloat16 frozen model needs a CPU with AVX-512 (the packed bf16 kernels); use --base-dtype float32 here.");
        var model = CausalLmRegistry.Create(source.Config);
        try
        {
            var packed = source.LinearWeights.Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var parameter in model.Parameters.Parameters)
                if (!packed.Contains(parameter.Name)) parameter.Value.CopyFrom(source.Parameters[parameter.Name].Value);
            return (model, InferenceWeights.PackFrom(model, source, precision));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>"float32" or "bfloat16" (the <c>--base-dtype</c> values; torch's dtype names).</summary>
    public static WeightPrecision ParseDtype(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => WeightPrecision.Float32,
        "bfloat16" or "bf16" => WeightPrecision.BFloat16,
        _ => throw new ArgumentException($"--base-dtype '{name}' is not supported; use float32 or bfloat16."),
    };
}
