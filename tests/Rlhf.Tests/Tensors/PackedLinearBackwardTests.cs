// The input gradient of a frozen packed linear layer (PackedMatrix.MultiplyTransposedAdd, Ops.PackedLinear): against a
// double-precision dC·op(B)ᵀ over the stored (bf16-rounded) values at odd sizes, and finite differences of the op.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class PackedLinearBackwardTests
{
    private readonly TestTensors tensors = new(77);

    [SkippableTheory]
    [MemberData(nameof(PackedMatrixTests.Shapes), MemberType = typeof(PackedMatrixTests))]
    public void MultiplyTransposedAddMatchesTheReference(int m, int n, int k)
    {
        Skip.IfNot(PackedMatrix.Supported, "packed matrices need AVX-512");
        var weights = tensors.Random(k, n);
        var dc = tensors.Random(m, n + 3); // ldc > n
        foreach (var precision in new[] { WeightPrecision.Float32, WeightPrecision.BFloat16 })
        {
            using var packed = PackedMatrix.FromRowMajor(weights.Pointer, k, n, precision);
            var da = tensors.Random(m, k + 2); // lda > k; the kernel adds into it
            var before = tensors.Copy(da);
            packed.MultiplyTransposedAdd(m, dc.Pointer, n + 3, da.Pointer, k + 2);
            for (int r = 0; r < m; r++)
                for (int p = 0; p < k + 2; p++)
                {
                    double expected = before.Span[r * (k + 2) + p], magnitude = Math.Abs(expected);
                    if (p < k)
                        for (int j = 0; j < n; j++)
                        {
                            double term = (double)dc.Span[r * (n + 3) + j] * packed[p, j];
                            expected += term;
                            magnitude += Math.Abs(term);
                        }
                    float actual = da.Span[r * (k + 2) + p];
                    Assert.True(Math.Abs(actual - expected) <= 1e-6 * (1 + magnitude), $"{precision} dA[{r},{p}] = {actual}, expected {expected}");
                }
        }
    }

    [SkippableFact]
    public void PackedLinearInputGradientMatchesFiniteDifferences()
    {
        Skip.IfNot(PackedMatrix.Supported, "packed matrices need AVX-512");
        const int rows = 5, inputs = 37, outputs = 70;
        var x = tensors.Random(rows, inputs);
        var weights = tensors.Random(outputs, inputs); // nn.Linear [out, in]
        var bias = tensors.Random(outputs);
        var lossWeights = FiniteDifference.RandomArray(tensors.Rng, rows * outputs);
        using var packed = PackedMatrix.FromTransposed(weights.Pointer, outputs, inputs, WeightPrecision.BFloat16);
        using var arena = new Arena();
        double Loss()
        {
            arena.Reset();
            var ops = new Ops(arena, new Tape { Enabled = false });
            return FiniteDifference.Dot(ops.PackedLinear(ops.Constant(x), packed, ops.Constant(bias)).Value.Span, lossWeights);
        }
        arena.Reset();
        var tape = new Tape();
        var recording = new Ops(arena, tape);
        var input = new Node(x, true, arena);
        var output = recording.PackedLinear(input, packed, recording.Constant(bias));
        lossWeights.CopyTo(output.Gradient.Span);
        tape.Backward();
        var gradient = input.Gradient.ToArray();
        // Linear in x, so central differences are exact up to fp32 rounding of the outputs (|y| ≲ 20, step 1e-2).
        FiniteDifference.Check("packed linear input", x.Span, gradient, Loss, step: 1e-2, absTol: 2e-3, relTol: 1e-3);

        // The same as the fp32 nn.Linear backward on the bf16-rounded weights (≤ 1e-5 relative: only the summation order differs).
        var rounded = tensors.Copy(weights);
        var span = rounded.Span;
        for (int i = 0; i < span.Length; i++) span[i] = BitConverter.UInt32BitsToSingle((uint)ReducedPrecisionKernels.ToBFloat16(span[i]) << 16);
        var expected = tensors.Zeros(rows, inputs);
        var dy = tensors.Zeros(rows, outputs);
        lossWeights.CopyTo(dy.Span);
        LinearKernels.BackwardOutIn(expected.Pointer, null, null, dy.Pointer, x.Pointer, rounded.Pointer, rows, inputs, outputs);
        for (int i = 0; i < gradient.Length; i++)
            Assert.True(Math.Abs(gradient[i] - expected.Span[i]) <= 1e-5 * (1 + Math.Abs(expected.Span[i])), $"dX[{i}] {gradient[i]} vs {expected.Span[i]}");
    }

    [SkippableFact]
    public void ATrainableBiasIsRefused()
    {
        Skip.IfNot(PackedMatrix.Supported, "packed matrices need AVX-512");
        var weights = tensors.Random(4, 3);
        using var packed = PackedMatrix.FromRowMajor(weights.Pointer, 4, 3, WeightPrecision.BFloat16);
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape());
        var error = Assert.Throws<ArgumentException>(() => ops.PackedLinear(ops.Constant(tensors.Random(2, 4)), packed, new Node(tensors.Random(3), true, arena)));
        Assert.Contains("frozen", error.Message);
    }
}
