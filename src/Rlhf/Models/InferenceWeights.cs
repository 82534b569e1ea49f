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
    private readonly PackedMatrix? lmHead;

    /// <summary>The LM head [V, C] packed for the decoder's logits.</summary>
    public PackedMatrix LmHead => lmHead
        ?? throw new InvalidOperationException("These weights were packed without the LM head (a frozen copy scores with its fp32 head).");

    public static bool Supported => PackedMatrix.Supported;

    /// <summary>False for weights packed without the LM head (a frozen copy or frozen base scores with its fp32 head).</summary>
    public bool HasLmHead => lmHead is not null;

    private InferenceWeights(ICausalLm model, WeightPrecision precision, ICausalLm? source = null, bool packHead = true, Action<string>? afterEach = null)
    {
        source ??= model;
        if (!Supported) throw new PlatformNotSupportedException("Packed inference weights need a CPU with AVX-512; generation runs on the model's own fp32 weights instead.");
        Model = model;
        Precision = precision;
        try
        {
            foreach (var (name, layout) in model.LinearWeights)
            {
                var weight = source.Parameters[name].Value;
                var shape = weight.Shape;
                matrices[name] = layout == MatrixLayout.InputMajor
                    ? PackedMatrix.FromRowMajor(weight.Pointer, shape[0], shape[1], precision)
                    : PackedMatrix.FromTransposed(weight.Pointer, shape[0], shape[1], precision);
                afterEach?.Invoke(name);
            }
            var head = source.Parameters[model.LmHeadWeightName].Value;
            if (packHead) lmHead = PackedMatrix.FromTransposed(head.Pointer, head.Shape[0], head.Shape[1], precision);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Packs the model's current weights.</summary>
    public static InferenceWeights Pack(ICausalLm model, WeightPrecision precision = WeightPrecision.Float32) =>
        model.FrozenBaseWeights is null ? new(model, precision)
        : throw new InvalidOperationException("This model's frozen linear weights are held only packed (--base-dtype bfloat16); it runs on those, there is nothing to pack.");

    /// <summary>Packs <paramref name="source"/>'s linear weights (same family and shapes), not its LM head, for use with
    /// <paramref name="model"/>, whose own copies of them are then never read (see <see cref="FrozenCopy"/>).</summary>
    internal static InferenceWeights PackFrom(ICausalLm model, ICausalLm source, WeightPrecision precision) => new(model, precision, source, packHead: false);

    /// <summary>Packs the model's own linear weights (not its LM head), calling <paramref name="afterEach"/> with each
    /// weight's name once it is packed (see <see cref="FrozenBase"/>, which then gives its fp32 pages back).</summary>
    internal static InferenceWeights PackLinear(ICausalLm model, WeightPrecision precision, Action<string> afterEach) =>
        new(model, precision, packHead: false, afterEach: afterEach);

    /// <summary>The packed form of a linear layer's weight, e.g. <c>transformer.h.0.mlp.c_fc.weight</c>.</summary>
    public PackedMatrix this[string weightName] => matrices.TryGetValue(weightName, out var matrix)
        ? matrix
        : throw new KeyNotFoundException($"No packed weight '{weightName}'.");

    /// <summary>Bytes one decode step streams (every packed matrix once; embeddings and norms aside).</summary>
    public long Bytes => matrices.Values.Sum(m => m.Bytes) + (lmHead?.Bytes ?? 0);

    public void Dispose()
    {
        foreach (var matrix in matrices.Values) matrix.Dispose();
        matrices.Clear();
        lmHead?.Dispose();
    }
}
