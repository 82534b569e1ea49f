// Tests for the elementwise and row kernels: SIMD vs scalar reference at odd sizes, finite-difference
// checks of every backward, and that backward kernels add into (not overwrite) gradient buffers.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class KernelTests
{
    public static readonly TheoryData<int> Sizes = new() { 0, 1, 15, 16, 17, 63, 65 };

    // Keeps every tensor a test allocates reachable until the test ends (kernels only see raw pointers).
    private readonly TestTensors tensors = new(1234);

    private Rng rng => tensors.Rng;

    private Tensor Random(params int[] shape) => tensors.Random(shape);

    private Tensor Zeros(params int[] shape) => tensors.Zeros(shape);

    private Tensor Copy(Tensor source) => tensors.Copy(source);

    internal static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double absTol, double relTol, string name)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"{name}[{i}] is NaN");
            double error = Math.Abs((double)expected[i] - actual[i]);
            Assert.True(error <= absTol + relTol * Math.Abs(expected[i]),
                $"{name}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9}");
        }
    }

    // ---------------- Residual ----------------

    [Theory]
    [MemberData(nameof(Sizes))]
    [InlineData(100_003)]
    public void ResidualMatchesScalar(int n)
    {
        var a = Random(n);
        var b = Random(n);
        var simd = Zeros(n);
        var scalar = Zeros(n);
        ResidualKernels.Forward(simd.Pointer, a.Pointer, b.Pointer, n);
        ResidualKernels.ForwardScalar(scalar.Pointer, a.Pointer, b.Pointer, n);
        Assert.Equal(scalar.ToArray(), simd.ToArray());

        var target1 = Copy(a);
        var target2 = Copy(a);
        ResidualKernels.Accumulate(target1.Pointer, b.Pointer, n);
        ResidualKernels.AccumulateScalar(target2.Pointer, b.Pointer, n);
        Assert.Equal(target2.ToArray(), target1.ToArray());
        Assert.Equal(scalar.ToArray(), target1.ToArray());
    }

    [Fact]
    public void ResidualBackwardFiniteDifference()
    {
        const int n = 17;
        var a = Random(n);
        var b = Random(n);
        var output = Zeros(n);
        var weights = Random(n); // loss = Σ w·(a + b), so dL/doutput = w
        var prefill = Random(n);
        var gradA = Copy(prefill);
        var gradB = Zeros(n);
        ResidualKernels.Accumulate(gradA.Pointer, weights.Pointer, n);
        ResidualKernels.Accumulate(gradB.Pointer, weights.Pointer, n);
        double Loss()
        {
            ResidualKernels.Forward(output.Pointer, a.Pointer, b.Pointer, n);
            return FiniteDifference.Dot(output.Span, weights.Span);
        }
        FiniteDifference.Check("dA", a.Span, Subtract(gradA, prefill), Loss);
        FiniteDifference.Check("dB", b.Span, gradB.Span, Loss);
    }

    private static float[] Subtract(Tensor total, Tensor prefill) => TestTensors.Minus(total, prefill);

    // ---------------- GELU ----------------

    [Theory]
    [MemberData(nameof(Sizes))]
    [InlineData(100_003)]
    public void GeluMatchesScalar(int n)
    {
        var x = Random(n);
        if (n > 0) { x.Span[0] = 20f; if (n > 1) x.Span[1] = -20f; if (n > 2) x.Span[2] = 1e-4f; if (n > 3) x.Span[3] = -6f; }
        var simd = Zeros(n);
        var scalar = Zeros(n);
        GeluKernels.Forward(simd.Pointer, x.Pointer, n);
        GeluKernels.ForwardScalar(scalar.Pointer, x.Pointer, n);
        AssertClose(scalar.Span, simd.Span, 1e-6, 1e-5, "gelu");

        // Independent double-precision reference.
        var xs = x.Span;
        var expected = new float[n];
        for (int i = 0; i < n; i++)
        {
            double v = xs[i];
            expected[i] = (float)(0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));
        }
        AssertClose(expected, simd.Span, 1e-6, 1e-5, "gelu vs double");

        var dy = Random(n);
        var gradSimd = Random(n);
        var gradScalar = Copy(gradSimd);
        GeluKernels.Backward(gradSimd.Pointer, x.Pointer, dy.Pointer, n);
        GeluKernels.BackwardScalar(gradScalar.Pointer, x.Pointer, dy.Pointer, n);
        AssertClose(gradScalar.Span, gradSimd.Span, 1e-5, 1e-5, "gelu backward");
    }

    [Fact]
    public void GeluBackwardFiniteDifferenceAndAdds()
    {
        const int n = 33;
        var x = Random(n);
        var output = Zeros(n);
        var weights = Random(n);
        var prefill = Random(n);
        var grad = Copy(prefill);
        GeluKernels.Backward(grad.Pointer, x.Pointer, weights.Pointer, n);
        var fresh = Zeros(n);
        GeluKernels.Backward(fresh.Pointer, x.Pointer, weights.Pointer, n);
        AssertClose(Sum(prefill, fresh), grad.Span, 1e-6, 1e-6, "gelu adds");
        FiniteDifference.Check("gelu dx", x.Span, fresh.Span, () =>
        {
            GeluKernels.Forward(output.Pointer, x.Pointer, n);
            return FiniteDifference.Dot(output.Span, weights.Span);
        }, step: 1e-3);
    }

    private static float[] Sum(Tensor a, Tensor b)
    {
        var result = a.ToArray();
        var s = b.Span;
        for (int i = 0; i < result.Length; i++) result[i] += s[i];
        return result;
    }

    // ---------------- Embedding ----------------

    private static int[] Ids(Rng rng, int count, int max)
    {
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.NextInt(max);
        return ids;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void EmbeddingMatchesScalar(int channels)
    {
        foreach (int count in new[] { 0, 1, 9, 600 })
        {
            const int vocab = 7, positions = 5;
            var tokens = Ids(rng, count, vocab);
            var pos = Ids(rng, count, positions);
            var wte = Random(vocab, channels);
            var wpe = Random(positions, channels);
            var simd = Zeros(count, channels);
            var scalar = Zeros(count, channels);
            var dy = Random(count, channels);
            var gTokSimd = Random(vocab, channels);
            var gPosSimd = Random(positions, channels);
            var gTokScalar = Copy(gTokSimd);
            var gPosScalar = Copy(gPosSimd);
            fixed (int* t = tokens)
            fixed (int* p = pos)
            {
                EmbeddingKernels.Forward(simd.Pointer, t, p, wte.Pointer, wpe.Pointer, count, channels);
                EmbeddingKernels.ForwardScalar(scalar.Pointer, t, p, wte.Pointer, wpe.Pointer, count, channels);
                EmbeddingKernels.Backward(gTokSimd.Pointer, gPosSimd.Pointer, dy.Pointer, t, p, count, channels);
                EmbeddingKernels.BackwardScalar(gTokScalar.Pointer, gPosScalar.Pointer, dy.Pointer, t, p, count, channels);
            }
            Assert.Equal(scalar.ToArray(), simd.ToArray());
            Assert.Equal(gTokScalar.ToArray(), gTokSimd.ToArray());
            Assert.Equal(gPosScalar.ToArray(), gPosSimd.ToArray());
        }
    }

    [Fact]
    public void EmbeddingBackwardFiniteDifferenceAndAdds()
    {
        const int count = 10, channels = 17, vocab = 4, positions = 5;
        var tokens = Ids(rng, count, vocab);
        var pos = Ids(rng, count, positions);
        var wte = Random(vocab, channels);
        var wpe = Random(positions, channels);
        var output = Zeros(count, channels);
        var weights = Random(count, channels);
        var prefillTok = Random(vocab, channels);
        var prefillPos = Random(positions, channels);
        var gTok = Copy(prefillTok);
        var gPos = Copy(prefillPos);
        fixed (int* t = tokens)
        fixed (int* p = pos)
        {
            int* tp = t, pp = p;
            EmbeddingKernels.Backward(gTok.Pointer, gPos.Pointer, weights.Pointer, tp, pp, count, channels);
            double Loss()
            {
                EmbeddingKernels.Forward(output.Pointer, tp, pp, wte.Pointer, wpe.Pointer, count, channels);
                return FiniteDifference.Dot(output.Span, weights.Span);
            }
            FiniteDifference.Check("dWte", wte.Span, Subtract(gTok, prefillTok), Loss);
            FiniteDifference.Check("dWpe", wpe.Span, Subtract(gPos, prefillPos), Loss);
        }
    }

    // ---------------- LayerNorm ----------------

    [Theory]
    [MemberData(nameof(Sizes))]
    public void LayerNormMatchesScalar(int channels)
    {
        foreach (int rows in new[] { 0, 1, 7, 300 })
        {
            var x = Random(rows, channels);
            var w = Random(channels);
            var b = Random(channels);
            var outSimd = Zeros(rows, channels);
            var outScalar = Zeros(rows, channels);
            var meanSimd = Zeros(rows);
            var meanScalar = Zeros(rows);
            var rstdSimd = Zeros(rows);
            var rstdScalar = Zeros(rows);
            LayerNormKernels.Forward(outSimd.Pointer, meanSimd.Pointer, rstdSimd.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, channels, 1e-5f);
            LayerNormKernels.ForwardScalar(outScalar.Pointer, meanScalar.Pointer, rstdScalar.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, channels, 1e-5f);
            AssertClose(outScalar.Span, outSimd.Span, 2e-5, 2e-5, "ln out");
            AssertClose(meanScalar.Span, meanSimd.Span, 1e-6, 1e-5, "ln mean");
            AssertClose(rstdScalar.Span, rstdSimd.Span, 1e-6, 1e-5, "ln rstd");

            var dy = Random(rows, channels);
            var dxSimd = Random(rows, channels);
            var dwSimd = Random(channels);
            var dbSimd = Random(channels);
            var dxScalar = Copy(dxSimd);
            var dwScalar = Copy(dwSimd);
            var dbScalar = Copy(dbSimd);
            LayerNormKernels.Backward(dxSimd.Pointer, dwSimd.Pointer, dbSimd.Pointer, dy.Pointer, x.Pointer, w.Pointer,
                meanScalar.Pointer, rstdScalar.Pointer, rows, channels);
            LayerNormKernels.BackwardScalar(dxScalar.Pointer, dwScalar.Pointer, dbScalar.Pointer, dy.Pointer, x.Pointer, w.Pointer,
                meanScalar.Pointer, rstdScalar.Pointer, rows, channels);
            AssertClose(dxScalar.Span, dxSimd.Span, 1e-4, 1e-4, "ln dx");
            AssertClose(dwScalar.Span, dwSimd.Span, 1e-3, 1e-4, "ln dw");
            AssertClose(dbScalar.Span, dbSimd.Span, 1e-3, 1e-4, "ln db");
        }
    }

    [Fact]
    public void LayerNormMatchesDoubleReference()
    {
        const int rows = 3, channels = 17;
        var x = Random(rows, channels);
        var w = Random(channels);
        var b = Random(channels);
        var output = Zeros(rows, channels);
        var mean = Zeros(rows);
        var rstd = Zeros(rows);
        LayerNormKernels.Forward(output.Pointer, mean.Pointer, rstd.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, channels, 1e-5f);
        var xs = x.ToArray();
        var expected = new float[rows * channels];
        for (int r = 0; r < rows; r++)
        {
            double m = 0, v = 0;
            for (int c = 0; c < channels; c++) m += xs[r * channels + c];
            m /= channels;
            for (int c = 0; c < channels; c++) v += Math.Pow(xs[r * channels + c] - m, 2);
            v /= channels; // biased, as PyTorch
            Assert.Equal(m, mean.Span[r], 5);
            Assert.Equal(1 / Math.Sqrt(v + 1e-5), rstd.Span[r], 4);
            for (int c = 0; c < channels; c++)
                expected[r * channels + c] = (float)((xs[r * channels + c] - m) / Math.Sqrt(v + 1e-5) * w.Span[c] + b.Span[c]);
        }
        AssertClose(expected, output.Span, 1e-5, 1e-5, "ln vs double");
    }

    [Fact]
    public void LayerNormBackwardFiniteDifferenceAndAdds()
    {
        const int rows = 4, channels = 17;
        var x = Random(rows, channels);
        var w = Random(channels);
        var b = Random(channels);
        var output = Zeros(rows, channels);
        var mean = Zeros(rows);
        var rstd = Zeros(rows);
        var weights = Random(rows, channels);
        LayerNormKernels.Forward(output.Pointer, mean.Pointer, rstd.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, channels, 1e-5f);

        var preDx = Random(rows, channels);
        var preDw = Random(channels);
        var preDb = Random(channels);
        var dx = Copy(preDx);
        var dw = Copy(preDw);
        var db = Copy(preDb);
        LayerNormKernels.Backward(dx.Pointer, dw.Pointer, db.Pointer, weights.Pointer, x.Pointer, w.Pointer, mean.Pointer, rstd.Pointer, rows, channels);

        var mean2 = Zeros(rows);
        var rstd2 = Zeros(rows);
        double Loss()
        {
            LayerNormKernels.Forward(output.Pointer, mean2.Pointer, rstd2.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, channels, 1e-5f);
            return FiniteDifference.Dot(output.Span, weights.Span);
        }
        FiniteDifference.Check("ln dx", x.Span, Subtract(dx, preDx), Loss);
        FiniteDifference.Check("ln dw", w.Span, Subtract(dw, preDw), Loss);
        FiniteDifference.Check("ln db", b.Span, Subtract(db, preDb), Loss);
    }

    [Fact]
    public void LayerNormBackwardIsDeterministic()
    {
        const int rows = 700, channels = 65;
        var x = Random(rows, channels);
        var w = Random(channels);
        var dy = Random(rows, channels);
        var mean = Random(rows);
        var rstd = Random(rows);
        float[]? first = null;
        for (int run = 0; run < 3; run++)
        {
            var dx = Zeros(rows, channels);
            var dw = Zeros(channels);
            var db = Zeros(channels);
            LayerNormKernels.Backward(dx.Pointer, dw.Pointer, db.Pointer, dy.Pointer, x.Pointer, w.Pointer, mean.Pointer, rstd.Pointer, rows, channels);
            var all = dw.ToArray().Concat(db.ToArray()).ToArray();
            if (first == null) first = all;
            else Assert.Equal(first, all);
        }
    }
}
