// Tensors for kernel tests: random or zeroed, kept referenced for the test's lifetime (kernels take raw pointers).
using Rlhf.Tensors;

namespace Rlhf.Tests.Support;

internal sealed class TestTensors(ulong seed)
{
    private readonly List<Tensor> live = [];
    private readonly Rng rng = new(seed);

    /// <summary>The generator behind <see cref="Random"/> (for other random inputs of the same test).</summary>
    public Rng Rng => rng;

    public Tensor Random(params int[] shape) => Keep(Tensor.FromArray(FiniteDifference.RandomArray(rng, (int)Tensor.ElementCount(shape)), shape));

    public Tensor Zeros(params int[] shape) => Keep(Tensor.Zeros(shape));

    /// <summary>A kept copy of <paramref name="source"/> (e.g. a pre-filled gradient before a backward adds into it).</summary>
    public Tensor Copy(Tensor source)
    {
        var copy = Zeros(source.Shape);
        copy.CopyFrom(source);
        return copy;
    }

    /// <summary>total − prefill, elementwise: what a backward kernel added into a pre-filled gradient.</summary>
    public static float[] Minus(Tensor total, Tensor prefill)
    {
        var result = total.ToArray();
        var p = prefill.Span;
        for (int i = 0; i < result.Length; i++) result[i] -= p[i];
        return result;
    }

    private Tensor Keep(Tensor tensor)
    {
        live.Add(tensor);
        return tensor;
    }
}
