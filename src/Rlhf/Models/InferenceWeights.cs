// A model's matrices repacked for decoding (see PackedMatrix): built once per set of weights, used by generation.
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>
/// Every linear layer's weight of a model (<see cref="ICausalLm.LinearWeights"/>) plus its LM head, packed for the decode GEMM in fp32
/// (same values as the model) or bfloat16 (half the bytes per token). A snapshot: after the model's weights change
/// (an optimizer step), pack again. Needs AVX-512 (<see cref="Supported"/>); elsewhere generation uses the model as is.
/// </summary>
internal sealed unsafe class InferenceWeights : IDisposable
{
    private readonly Dictionary<string, PackedMatrix> matrices = new(StringComparer.Ordinal);

    public ICausalLm Model { get; }
    public WeightPrecision Precision { get; }
    public PackedMatrix LmHead { get; }

    public static bool Supported => PackedMatrix.Supported;

    private InferenceWeights(ICausalLm model, WeightPrecision precision)
    {
        if (!Supported) throw new PlatformNotSupportedException("Packed inference weights need a CPU with AVX-512; generation runs on the model's own fp32 weights instead.");
        Model = model;
        Precision = precision;
        try
        {
            foreach (var (name, layout) in model.LinearWeights)
            {
                var weight = model.Parameters[name].Value;
                var shape = weight.Shape;
                matrices[name] = layout == MatrixLayout.InputMajor
                    ? PackedMatrix.FromRowMajor(weight.Pointer, shape[0], shape[1], precision)
                    : PackedMatrix.FromTransposed(weight.Pointer, shape[0], shape[1], precision);
            }
            var head = model.Parameters[model.LmHeadWeightName].Value;
            LmHead = PackedMatrix.FromTransposed(head.Pointer, head.Shape[0], head.Shape[1], precision);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Packs the model's current weights.</summary>
    public static InferenceWeights Pack(ICausalLm model, WeightPrecision precision = WeightPrecision.Float32) => new(model, precision);

    /// <summary>The packed form of a linear layer's weight, e.g. <c>transformer.h.0.mlp.c_fc.weight</c>.</summary>
    public PackedMatrix this[string weightName] => matrices.TryGetValue(weightName, out var matrix)
        ? matrix
        : throw new KeyNotFoundException($"No packed weight '{weightName}'.");

    /// <summary>Bytes one decode step streams (every packed matrix once; embeddings and norms aside).</summary>
    public long Bytes => matrices.Values.Sum(m => m.Bytes) + (LmHead?.Bytes ?? 0);

    public void Dispose()
    {
        foreach (var matrix in matrices.Values) matrix.Dispose();
        matrices.Clear();
        LmHead?.Dispose();
    }
}
