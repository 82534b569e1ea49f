// Tensors for kernel tests: random or zeroed, kept referenced for the test's lifetime (kernels take raw pointers).
using Rlhf.Tensors;

namespace Rlhf.Tests.Support;

public sealed class TestTensors(ulong seed)
{
    private readonly List<Tensor> live = [];
    private readonly Rng rng = new(seed);

    /// <summary>The generator behind <see cref="Random"/> (for other random inputs of the same test).</summary>
    public Rng Rng => rng;

    public Tensor Random(params int[] shape) => Keep(Tensor.FromArray(FiniteDifference.RandomArray(rng, (int)Tensor.ElementCount(shape)), shape));

    public Tensor Zeros(params int[] shape) => Keep(Tensor.Zeros(shape));

    private Tensor Keep(Tensor tensor)
    {
        live.Add(tensor);
        return tensor;
    }
}
