// Tests for causal multi-head attention with a key padding mask: against an independent double-precision
// implementation, the GEMM/SIMD path (logsumexp kept, probabilities recomputed in backward) vs the scalar reference
// (probabilities kept), finite differences of the backward, and masking edge cases.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class AttentionTests
{
    private readonly TestTensors tensors = new(99);

    private Tensor Random(params int[] shape) => tensors.Random(shape);

    private Tensor Zeros(params int[] shape) => tensors.Zeros(shape);

    /// <summary>keyMask [B, T]: sequence b is left-padded by pad[b] positions (pad may cover the whole sequence).</summary>
    private Tensor LeftPadMask(int batch, int tokens, params int[] pad)
    {
        var m = Zeros(batch, tokens);
        var s = m.Span;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++)
                s[b * tokens + t] = t >= pad[b % pad.Length] ? 1f : 0f;
        return m;
    }

    /// <summary>Straightforward double-precision attention: returns (output [B,T,C], probs [B,H,T,T]).</summary>
    private static (double[] Output, double[] Probs) Naive(float[] qkv, float[]? mask, int B, int T, int C, int H)
    {
        int hs = C / H;
        var output = new double[B * T * C];
        var probs = new double[B * H * T * T];
        for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++)
        {
            var scores = new double[T];
            var valid = new bool[T];
            double max = double.NegativeInfinity;
            for (int j = 0; j <= i; j++)
            {
                valid[j] = mask == null || mask[b * T + j] != 0;
                if (!valid[j]) continue;
                double dot = 0;
                for (int d = 0; d < hs; d++)
                    dot += (double)qkv[(b * T + i) * 3 * C + h * hs + d] * qkv[(b * T + j) * 3 * C + C + h * hs + d];
                scores[j] = dot / Math.Sqrt(hs);
                max = Math.Max(max, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j <= i; j++) if (valid[j]) sum += Math.Exp(scores[j] - max);
            for (int j = 0; j <= i; j++)
            {
                if (!valid[j]) continue;
                double p = Math.Exp(scores[j] - max) / sum;
                probs[((b * H + h) * T + i) * T + j] = p;
                for (int d = 0; d < hs; d++)
                    output[(b * T + i) * C + h * hs + d] += p * qkv[(b * T + j) * 3 * C + 2 * C + h * hs + d];
            }
        }
        return (output, probs);
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tol, string name)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(float.IsFinite(actual[i]), $"{name}[{i}] = {actual[i]}");
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])),
                $"{name}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9}");
        }
    }

    public static readonly TheoryData<int, int, int, int, bool> Shapes = new()
    {
        { 2, 5, 8, 2, true },
        { 2, 5, 8, 2, false },
        { 1, 1, 4, 1, false },
        { 1, 1, 4, 1, true },
        { 2, 17, 12, 3, true },
        { 3, 16, 8, 4, true },
        { 1, 33, 16, 2, true },
        { 2, 65, 8, 1, false },
        { 2, 150, 8, 2, true }, // three causal row blocks of 64, the last one partial
        { 1, 129, 16, 2, false },
        { 2, 0, 8, 2, true },
        { 0, 4, 8, 2, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesNaiveAndScalar(int B, int T, int C, int H, bool masked)
    {
        var qkv = Random(B, T, 3 * C);
        // Sequence 0 unpadded, 1 left-padded by 2, 2 entirely padding.
        var mask = masked ? LeftPadMask(B, T, 0, 2, T) : null;
        float* maskPtr = mask == null ? null : mask.Pointer;
        var (expectedOut, expectedProbs) = Naive(qkv.ToArray(), mask?.ToArray(), B, T, C, H);

        var output = Zeros(B, T, C);
        var lse = Zeros(B, H, T);
        output.Span.Fill(float.NaN); // forward must overwrite, not accumulate
        lse.Span.Fill(float.NaN);
        AttentionKernels.Forward(output.Pointer, lse.Pointer, qkv.Pointer, maskPtr, B, T, C, H);
        AssertClose(expectedOut, output.Span, 1e-5, "output");
        var unkept = Zeros(B, T, C);
        AttentionKernels.Forward(unkept.Pointer, null, qkv.Pointer, maskPtr, B, T, C, H); // no logsumexp: same output
        Assert.Equal(output.ToArray(), unkept.ToArray());

        var outScalar = Zeros(B, T, C);
        var probsScalar = Zeros(B, H, T, T);
        AttentionKernels.ForwardScalar(outScalar.Pointer, probsScalar.Pointer, qkv.Pointer, maskPtr, B, T, C, H);
        AssertClose(expectedOut, outScalar.Span, 1e-5, "output scalar");
        AssertClose(expectedProbs, probsScalar.Span, 1e-6, "probs scalar");
        for (int i = 0; i < expectedProbs.Length; i++)
            if (expectedProbs[i] == 0) Assert.Equal(0f, probsScalar.Span[i]); // exactly zero at masked/future keys

        // Backward: the GEMM path recomputing P from the logsumexp vs the scalar reference on the kept probabilities
        // (the old form), both adding into the same pre-filled gradient; ≤ 1e-5 absolute (+ 1e-4 relative).
        var dy = Random(B, T, C);
        var prefill = Random(B, T, 3 * C);
        var grad = Zeros(B, T, 3 * C);
        var gradScalar = Zeros(B, T, 3 * C);
        grad.CopyFrom(prefill);
        gradScalar.CopyFrom(prefill);
        AttentionKernels.Backward(grad.Pointer, dy.Pointer, qkv.Pointer, lse.Pointer, maskPtr, B, T, C, H);
        AttentionKernels.BackwardScalar(gradScalar.Pointer, dy.Pointer, qkv.Pointer, probsScalar.Pointer, maskPtr, B, T, C, H);
        KernelTests.AssertClose(gradScalar.Span, grad.Span, 1e-5, 1e-4, "qkv grad");

        // Repeated same-size call (reused scratch) gives the same increment again.
        var again = Zeros(B, T, 3 * C);
        again.CopyFrom(grad);
        AttentionKernels.Backward(again.Pointer, dy.Pointer, qkv.Pointer, lse.Pointer, maskPtr, B, T, C, H);
        var g = grad.Span;
        var p = prefill.Span;
        var a = again.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - (g[i] + (g[i] - p[i]))) <= 1e-5 * (1 + Math.Abs(a[i])), $"repeat[{i}]");
    }

    [Fact]
    public void PaddedQueriesOutputZerosAndNoNaN()
    {
        const int B = 2, T = 5, C = 8, H = 2;
        var qkv = Random(B, T, 3 * C);
        var mask = LeftPadMask(B, T, 0, 2);
        var output = Zeros(B, T, C);
        var lse = Zeros(B, H, T);
        AttentionKernels.Forward(output.Pointer, lse.Pointer, qkv.Pointer, mask.Pointer, B, T, C, H);
        var o = output.Span;
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < C; c++) Assert.Equal(0f, o[(1 * T + t) * C + c]);
        // A query with no valid key keeps lse = +∞ (its recomputed P is then exactly 0); the others a finite value.
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
            {
                Assert.True(float.IsFinite(lse.Span[(0 * H + h) * T + i]));
                Assert.Equal(i < 2, float.IsPositiveInfinity(lse.Span[(1 * H + h) * T + i]));
            }
        foreach (float v in o) Assert.True(float.IsFinite(v));
        var grad = Zeros(B, T, 3 * C);
        AttentionKernels.Backward(grad.Pointer, Random(B, T, C).Pointer, qkv.Pointer, lse.Pointer, mask.Pointer, B, T, C, H);
        foreach (float v in grad.Span) Assert.True(float.IsFinite(v));
        for (int c = 0; c < C; c++) Assert.Equal(0f, grad.Span[(1 * T + 0) * 3 * C + c]); // a padded query gets no gradient
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BackwardFiniteDifference(bool masked)
    {
        const int B = 2, T = 5, C = 8, H = 2;
        var qkv = Random(B, T, 3 * C);
        var mask = masked ? LeftPadMask(B, T, 0, 1) : null;
        float* maskPtr = mask == null ? null : mask.Pointer;
        var output = Zeros(B, T, C);
        var lse = Zeros(B, H, T);
        var weights = Random(B, T, C); // loss = Σ w ∘ output, so dL/doutput = w
        AttentionKernels.Forward(output.Pointer, lse.Pointer, qkv.Pointer, maskPtr, B, T, C, H);

        var prefill = Random(B, T, 3 * C);
        var grad = Zeros(B, T, 3 * C);
        grad.CopyFrom(prefill);
        AttentionKernels.Backward(grad.Pointer, weights.Pointer, qkv.Pointer, lse.Pointer, maskPtr, B, T, C, H);
        var analytic = grad.ToArray();
        var p = prefill.Span;
        for (int i = 0; i < analytic.Length; i++) analytic[i] -= p[i];

        var perturbed = Zeros(B, T, C);
        FiniteDifference.Check("dqkv", qkv.Span, analytic, () =>
        {
            AttentionKernels.Forward(perturbed.Pointer, null, qkv.Pointer, maskPtr, B, T, C, H);
            return FiniteDifference.Dot(perturbed.Span, weights.Span);
        }, maxChecks: 1000);

        if (masked)
        {
            // Keys at padding positions get no gradient (their k and v never influence the output).
            for (int t = 0; t < 1; t++)
                for (int c = C; c < 3 * C; c++) Assert.Equal(0f, analytic[(1 * T + t) * 3 * C + c]);
        }
    }
}
