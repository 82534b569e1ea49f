// FiniteKernels.IndexOfNonFinite against its scalar reference at odd sizes and every position of the bad value.
using Rlhf.Tensors.Kernels;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class FiniteKernelsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(17)]
    [InlineData(33)]
    [InlineData(101)]
    public void FindsTheFirstNonFiniteLikeTheScalarLoop(int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (i % 5 - 2) * 1e30f; // large but finite
        fixed (float* p = values) Assert.Equal(-1, FiniteKernels.IndexOfNonFinite(p, count));
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            for (int at = 0; at < count; at++)
            {
                var copy = (float[])values.Clone();
                copy[at] = bad;
                if (at + 3 < count) copy[at + 3] = float.NaN; // a later bad value must not win
                fixed (float* p = copy)
                {
                    Assert.Equal(FiniteKernels.ScalarIndex(p, count), FiniteKernels.IndexOfNonFinite(p, count));
                    Assert.Equal(at, FiniteKernels.IndexOfNonFinite(p, count));
                }
            }
        }
    }

    [Fact]
    public void MaxFloatAndSubnormalsAreFinite()
    {
        float[] values = [float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 0f, -0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f];
        fixed (float* p = values) Assert.Equal(-1, FiniteKernels.IndexOfNonFinite(p, values.Length));
    }
}
