// VectorMath.Exp against double-precision exp over the whole float range, plus its edge cases.
using System.Runtime.Intrinsics;
using Rlhf.Tensors.Kernels;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed class VectorMathTests
{
    private static float[] Exp512Or256(float[] inputs)
    {
        var result = new float[inputs.Length];
        for (int i = 0; i < inputs.Length; i += 16)
        {
            var chunk = new float[16];
            Array.Copy(inputs, i, chunk, 0, Math.Min(16, inputs.Length - i));
            float[] output = new float[16];
            if (Vector512.IsHardwareAccelerated) VectorMath.Exp(Vector512.Create(chunk)).CopyTo(output);
            else
            {
                VectorMath.Exp(Vector256.Create(chunk, 0)).CopyTo(output, 0);
                VectorMath.Exp(Vector256.Create(chunk, 8)).CopyTo(output, 8);
            }
            Array.Copy(output, 0, result, i, Math.Min(16, inputs.Length - i));
        }
        return result;
    }

    [Fact]
    public void ExpIsWithinTwoUlpsOfDoubleExpOverTheNormalRange()
    {
        var inputs = new List<float>();
        for (double x = -87.3; x <= 88.3; x += 0.0137) inputs.Add((float)x);
        inputs.AddRange([0f, -0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.37f, -87.33f]);
        var actual = Exp512Or256([.. inputs]);
        for (int i = 0; i < inputs.Count; i++)
        {
            double expected = Math.Exp(inputs[i]);
            double relative = Math.Abs(actual[i] - expected) / expected;
            Assert.True(relative <= 2.4e-7, $"exp({inputs[i]:R}) = {actual[i]:R}, expected {expected:R} (relative error {relative:E2})");
        }
    }

    [Fact]
    public void ExpUnderflowsToZeroAndPropagatesNaN()
    {
        var actual = Exp512Or256([float.NegativeInfinity, -88f, -104f, -1e30f, float.NaN, 0f]);
        Assert.Equal(0f, actual[0]);
        Assert.Equal(0f, actual[1]);
        Assert.Equal(0f, actual[2]);
        Assert.Equal(0f, actual[3]);
        Assert.True(float.IsNaN(actual[4]));
        Assert.Equal(1f, actual[5]);
    }

    [SkippableFact]
    public void AvxTwoAndAvx512GiveIdenticalResults()
    {
        Skip.If(!Vector512.IsHardwareAccelerated || !Vector256.IsHardwareAccelerated, "needs both AVX-512 and AVX2 to compare them");
        var rng = new Random(7);
        for (int trial = 0; trial < 1000; trial++)
        {
            var values = Enumerable.Range(0, 16).Select(_ => (float)(rng.NextDouble() * 180 - 90)).ToArray();
            var wide = VectorMath.Exp(Vector512.Create(values));
            var low = VectorMath.Exp(Vector256.Create(values, 0));
            var high = VectorMath.Exp(Vector256.Create(values, 8));
            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(wide[i], low[i]);
                Assert.Equal(wide[i + 8], high[i]);
            }
        }
    }
}
