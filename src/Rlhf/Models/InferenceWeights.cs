// A model's matrices repacked for decoding (see PackedMatrix): built once per set of weights, used by generation.
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>
/// Every Conv1D weight of a <see cref="Gpt2Model"/> plus its tied LM head (wteᵀ), packed for the decode GEMM in fp32
/// (same values as the model) or bfloat16 (half the bytes per token). A snapshot: after the model's weights change
/// (an optimizer step), pack again. Needs AVX-512 (<see cref="Supported"/>); elsewhere generation uses the model as is.
/// </summary>
public sealed unsafe class InferenceWeights : IDisposable
{
    private readonly Dictionary<string, PackedMatrix> matrices = new(StringComparer.Ordinal);

    public Gpt2Model Model { get; }
    public WeightPrecision Precision { get; }
    public PackedMatrix LmHead { get; }

    public static bool Supported => PackedMatrix.Supported;

    private InferenceWeights(Gpt2Model model, WeightPrecision precision)
    {
        if (!Supported) throw new PlatformNotSupportedException("Packed inference weights need a CPU with AVX-512; generation runs on the model's own fp32 weights instead.");
        Model = model;
        Precision = precision;
        try
        {
            foreach (var parameter in model.Parameters.Parameters)
            {
                if (!IsLinearWeight(parameter.Name)) continue;
                var shape = parameter.Value.Shape;
                matrices[parameter.Name] = PackedMatrix.FromRowMajor(parameter.Value.Pointer, shape[0], shape[1], precision);
            }
            var wte = model.Parameters["transformer.wte.weight"].Value;
            LmHead = PackedMatrix.FromTransposed(wte.Pointer, wte.Shape[0], wte.Shape[1], precision);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Packs the model's current weights.</summary>
    public static InferenceWeights Pack(Gpt2Model model, WeightPrecision precision = WeightPrecision.Float32) => new(model, precision);

    /// <summary>The packed form of a Conv1D weight, e.g. <c>transformer.h.0.mlp.c_fc.weight</c>.</summary>
    public PackedMatrix this[string weightName] => matrices.TryGetValue(weightName, out var matrix)
        ? matrix
        : throw new KeyNotFoundException($"No packed weight '{weightName}'.");

    /// <summary>Bytes one decode step streams (every packed matrix once; embeddings and norms aside).</summary>
    public long Bytes => matrices.Values.Sum(m => m.Bytes) + (LmHead?.Bytes ?? 0);

    private static bool IsLinearWeight(string name) =>
        name.StartsWith("transformer.h.", StringComparison.Ordinal)
        && (name.EndsWith(".attn.c_attn.weight", StringComparison.Ordinal) || name.EndsWith(".attn.c_proj.weight", StringComparison.Ordinal)
            || name.EndsWith(".mlp.c_fc.weight", StringComparison.Ordinal) || name.EndsWith(".mlp.c_proj.weight", StringComparison.Ordinal));

    public void Dispose()
    {
        foreach (var matrix in matrices.Values) matrix.Dispose();
        matrices.Clear();
        LmHead?.Dispose();
    }
}
