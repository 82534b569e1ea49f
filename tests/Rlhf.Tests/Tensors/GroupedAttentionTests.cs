// Grouped-query causal attention (separate q [B·T, H·D], k and v [B·T, KV·D]) against an independent double-precision
// implementation with repeat_kv semantics, GEMM path (logsumexp kept, P recomputed in backward) vs scalar reference, finite differences of the backward, the
// KV-cache form fed piecewise, and the ops wiring on the tape.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class GroupedAttentionTests
{
    private readonly TestTensors tensors = new(2024);

    private Tensor Random(params int[] shape) => tensors.Random(shape);

    private Tensor Zeros(params int[] shape) => tensors.Zeros(shape);

    private Tensor LeftPadMask(int batch, int tokens, params int[] pad)
    {
        var m = Zeros(batch, tokens);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++) m.Span[b * tokens + t] = t >= pad[b % pad.Length] ? 1f : 0f;
        return m;
    }

    /// <summary>Double-precision reference: key/value head h / (H/KV) serves query head h; output [B·T, H·D].</summary>
    private static double[] Naive(float[] q, float[] k, float[] v, float[]? mask, int B, int T, int H, int KV, int D)
    {
        var output = new double[B * T * H * D];
        int group = H / KV;
        for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++)
        {
            int kvh = h / group;
            var scores = new double[T];
            double max = double.NegativeInfinity;
            for (int j = 0; j <= i; j++)
            {
                if (mask != null && mask[b * T + j] == 0) { scores[j] = double.NegativeInfinity; continue; }
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)q[(b * T + i) * H * D + h * D + d] * k[(b * T + j) * KV * D + kvh * D + d];
                scores[j] = dot / Math.Sqrt(D);
                max = Math.Max(max, scores[j]);
            }
            if (double.IsNegativeInfinity(max)) continue;
            double sum = 0;
            for (int j = 0; j <= i; j++) sum += Math.Exp(scores[j] - max);
            for (int j = 0; j <= i; j++)
            {
                double p = Math.Exp(scores[j] - max) / sum;
                for (int d = 0; d < D; d++) output[(b * T + i) * H * D + h * D + d] += p * v[(b * T + j) * KV * D + kvh * D + d];
            }
        }
        return output;
    }

    public static readonly TheoryData<int, int, int, int, int, bool> Shapes = new()
    {
        // batch, tokens, heads, kvHeads, headDim, masked
        { 2, 5, 4, 2, 8, true },
        { 1, 1, 3, 1, 5, false },
        { 2, 17, 6, 2, 5, true },   // odd head dimension
        { 3, 9, 4, 4, 6, true },    // as many kv heads as heads (GPT-2-like)
        { 1, 70, 9, 3, 16, true },  // SmolLM2's 9:3 grouping, two causal row blocks
        { 2, 130, 2, 1, 7, false }, // three row blocks, the last partial
        { 2, 0, 4, 2, 8, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesNaiveScalarAndBackward(int B, int T, int H, int KV, int D, bool masked)
    {
        var q = Random(B * T, H * D);
        var k = Random(B * T, KV * D);
        var v = Random(B * T, KV * D);
        var mask = masked ? LeftPadMask(B, T, 0, 2, T) : null; // row 1 left-padded by 2, row 2 all padding
        float* maskPtr = mask == null ? null : mask.Pointer;
        var expected = Naive(q.ToArray(), k.ToArray(), v.ToArray(), mask?.ToArray(), B, T, H, KV, D);

        var output = Zeros(B * T, H * D);
        var lse = Zeros(B, H, T);
        output.Span.Fill(float.NaN);
        lse.Span.Fill(float.NaN);
        AttentionKernels.Forward(output.Pointer, lse.Pointer, q.Pointer, k.Pointer, v.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
        var outScalar = Zeros(B * T, H * D);
        var probsScalar = Zeros(B, H, T, T);
        AttentionKernels.ForwardScalar(outScalar.Pointer, probsScalar.Pointer, q.Pointer, k.Pointer, v.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - output.Span[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"output[{i}]: {expected[i]:G9} vs {output.Span[i]:G9}");
            Assert.True(Math.Abs(expected[i] - outScalar.Span[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"scalar output[{i}]");
        }
        // The kept logsumexp gives back the scalar reference's probabilities: exp(s − lse) = P (s recomputed in double).
        for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++)
        for (int j = 0; j <= i; j++)
        {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)q.Span[(b * T + i) * H * D + h * D + d] * k.Span[(b * T + j) * KV * D + h / (H / KV) * D + d];
            double p = Math.Exp(dot / Math.Sqrt(D) - lse.Span[(b * H + h) * T + i]);
            if (mask != null && mask.Span[b * T + j] == 0) p = 0;
            Assert.True(Math.Abs(p - probsScalar.Span[((b * H + h) * T + i) * T + j]) <= 1e-5, $"P[{b},{h},{i},{j}] from lse");
        }

        var dy = Random(B * T, H * D);
        var (dq, dk, dv) = (Random(B * T, H * D), Random(B * T, KV * D), Random(B * T, KV * D));
        var (dqs, dks, dvs) = (Zeros(B * T, H * D), Zeros(B * T, KV * D), Zeros(B * T, KV * D));
        dqs.CopyFrom(dq); dks.CopyFrom(dk); dvs.CopyFrom(dv);
        // Recomputed P (new) vs the scalar reference on kept probabilities (old): ≤ 1e-5 absolute (+ 1e-4 relative).
        AttentionKernels.Backward(dq.Pointer, dk.Pointer, dv.Pointer, dy.Pointer, q.Pointer, k.Pointer, v.Pointer, lse.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
        AttentionKernels.BackwardScalar(dqs.Pointer, dks.Pointer, dvs.Pointer, dy.Pointer, q.Pointer, k.Pointer, v.Pointer, probsScalar.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
        KernelTests.AssertClose(dqs.Span, dq.Span, 1e-5, 1e-4, "dq");
        KernelTests.AssertClose(dks.Span, dk.Span, 1e-5, 1e-4, "dk");
        KernelTests.AssertClose(dvs.Span, dv.Span, 1e-5, 1e-4, "dv");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BackwardFiniteDifference(bool masked)
    {
        const int B = 2, T = 6, H = 4, KV = 2, D = 3;
        var q = Random(B * T, H * D);
        var k = Random(B * T, KV * D);
        var v = Random(B * T, KV * D);
        var mask = masked ? LeftPadMask(B, T, 0, 2) : null;
        float* maskPtr = mask == null ? null : mask.Pointer;
        var output = Zeros(B * T, H * D);
        var lse = Zeros(B, H, T);
        var weights = Random(B * T, H * D);
        AttentionKernels.Forward(output.Pointer, lse.Pointer, q.Pointer, k.Pointer, v.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
        var (dq, dk, dv) = (Zeros(B * T, H * D), Zeros(B * T, KV * D), Zeros(B * T, KV * D));
        AttentionKernels.Backward(dq.Pointer, dk.Pointer, dv.Pointer, weights.Pointer, q.Pointer, k.Pointer, v.Pointer, lse.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
        var perturbed = Zeros(B * T, H * D);
        double Loss()
        {
            AttentionKernels.Forward(perturbed.Pointer, null, q.Pointer, k.Pointer, v.Pointer, maskPtr, B, T, H, KV, D, H * D, KV * D);
            return FiniteDifference.Dot(perturbed.Span, weights.Span);
        }
        FiniteDifference.Check("dq", q.Span, dq.Span, Loss, maxChecks: 1000);
        FiniteDifference.Check("dk", k.Span, dk.Span, Loss, maxChecks: 1000);
        FiniteDifference.Check("dv", v.Span, dv.Span, Loss, maxChecks: 1000);
        if (masked)
            for (int t = 0; t < 2; t++)
                for (int c = 0; c < KV * D; c++)
                {
                    Assert.Equal(0f, dk.Span[(1 * T + t) * KV * D + c]); // padded keys get no gradient
                    Assert.Equal(0f, dv.Span[(1 * T + t) * KV * D + c]);
                }
    }

    [Theory]
    [InlineData(2, 9, 4, 2, 3, 5)]    // head dimension 3: no full vector; prefill 5, then single tokens
    [InlineData(2, 37, 6, 3, 16, 20)] // capacity not a multiple of 16
    [InlineData(1, 70, 9, 3, 64, 1)]  // SmolLM2 grouping and head size; more than 64 slots
    [InlineData(3, 21, 2, 2, 24, 17)] // as many kv heads as heads
    public void CachedDecodingEqualsFullAttention(int batch, int tokens, int heads, int kvHeads, int headDim, int prefill)
    {
        int capacity = tokens + 3;
        var q = Random(batch * tokens, heads * headDim);
        var k = Random(batch * tokens, kvHeads * headDim);
        var v = Random(batch * tokens, kvHeads * headDim);
        var fullMask = Zeros(batch, tokens);
        var cacheMask = Zeros(batch, capacity);
        for (int b = 0; b < batch; b++)
        {
            int padding = b == 1 ? Math.Min(2, prefill) : 0;
            for (int t = 0; t < tokens; t++)
            {
                fullMask.Span[b * tokens + t] = t >= padding ? 1f : 0f;
                cacheMask.Span[b * capacity + t] = t >= padding ? 1f : 0f;
            }
        }
        var expected = Zeros(batch * tokens, heads * headDim);
        var probs = Zeros(batch, heads, tokens, tokens);
        AttentionKernels.ForwardScalar(expected.Pointer, probs.Pointer, q.Pointer, k.Pointer, v.Pointer, fullMask.Pointer,
            batch, tokens, heads, kvHeads, headDim, heads * headDim, kvHeads * headDim);
        int qw = heads * headDim, kw = kvHeads * headDim;
        foreach (bool vectorized in new[] { true, false })
        {
            var keys = Zeros(batch, kvHeads, headDim, CachedAttentionKernels.KeyStride(capacity));
            var values = Zeros(batch, kvHeads, capacity, headDim);
            keys.Span.Fill(float.NaN); // unwritten slots must never reach an output
            values.Span.Fill(float.NaN);
            for (int start = 0; start < tokens;)
            {
                int n = start == 0 ? prefill : 1;
                var (pq, pk, pv) = (Zeros(batch * n, qw), Zeros(batch * n, kw), Zeros(batch * n, kw));
                for (int b = 0; b < batch; b++)
                {
                    q.Span.Slice((b * tokens + start) * qw, n * qw).CopyTo(pq.Span.Slice(b * n * qw));
                    k.Span.Slice((b * tokens + start) * kw, n * kw).CopyTo(pk.Span.Slice(b * n * kw));
                    v.Span.Slice((b * tokens + start) * kw, n * kw).CopyTo(pv.Span.Slice(b * n * kw));
                }
                var output = Zeros(batch * n, qw);
                output.Span.Fill(float.NaN);
                if (vectorized)
                    CachedAttentionKernels.Forward(output.Pointer, keys.Pointer, values.Pointer, pq.Pointer, pk.Pointer, pv.Pointer, cacheMask.Pointer,
                        batch, n, start, capacity, heads, kvHeads, headDim, qw, kw);
                else
                    CachedAttentionKernels.ForwardScalar(output.Pointer, keys.Pointer, values.Pointer, pq.Pointer, pk.Pointer, pv.Pointer, cacheMask.Pointer,
                        batch, n, start, capacity, heads, kvHeads, headDim, qw, kw);
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < qw; c++)
                        {
                            float want = expected.Span[(b * tokens + start + i) * qw + c], got = output.Span[(b * n + i) * qw + c];
                            Assert.True(Math.Abs(want - got) <= 1e-5 + 1e-5 * Math.Abs(want),
                                $"{(vectorized ? "SIMD" : "scalar")} b={b} t={start + i} c={c}: expected {want}, got {got}");
                        }
                start += n;
            }
        }
    }

    /// <summary>
    /// A small attention block through Ops on the tape — token embedding, RMSNorm, nn.Linear q/k/v with bias, rotary with
    /// left-padded positions, grouped-query attention, SwiGLU, output projection — checked by finite differences of a
    /// weighted sum of its output with respect to every parameter.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OpsKeepOnlyTheLogSumExpNotTheProbabilities(bool recording)
    {
        // B·H·T·T probabilities would be 2·6·96·96 = 110,592 floats; the ops keep the output and (recording) B·H·T = 1,152.
        const int B = 2, T = 96, H = 6, KV = 2, D = 8;
        var (q, k, v, qkv) = (Random(B * T, H * D), Random(B * T, KV * D), Random(B * T, KV * D), Random(B * T, 3 * H * D));
        foreach (bool fused in new[] { false, true })
        {
            using var arena = new Arena();
            var ops = new Ops(arena, new Tape { Enabled = recording });
            var (nq, nk, nv, nqkv) = (new Node(q, true, arena), new Node(k, true, arena), new Node(v, true, arena), new Node(qkv, true, arena));
            long before = arena.Used;
            var output = fused ? ops.Attention(nqkv, null, B, T, H) : ops.GroupedAttention(nq, nk, nv, null, B, T, H, KV, D);
            long kept = arena.PeakUsed - before, expected = (long)B * T * H * D + (recording ? (long)B * H * T : 0);
            Assert.True(kept <= expected + 64, $"{(fused ? "Attention" : "GroupedAttention")} kept {kept} floats, expected {expected}");
            Assert.Equal(B * T * H * D, output.Value.Length);
        }
    }

    [Fact]
    public void OpsBlockGradientsMatchFiniteDifferences()
    {
        const int B = 2, T = 5, C = 12, H = 4, KV = 2, D = 4, V = 11;
        int[] tokenIds = [1, 4, 4, 9, 2, 0, 0, 3, 7, 10];
        int[] positionIds = [0, 1, 2, 3, 4, 0, 0, 0, 1, 2]; // row 1 left-padded by 2
        var mask = LeftPadMask(B, T, 0, 2);
        var (cosArray, sinArray) = RotaryFrequencies.Tables(RotaryFrequencies.Inverse(D, 10000), T);
        var cos = Tensor.FromArray(cosArray, T, D / 2);
        var sin = Tensor.FromArray(sinArray, T, D / 2);
        using var parameters = new ParameterSet([
            ("embed", [V, C], true), ("norm", [C], false), ("q.w", [H * D, C], true), ("q.b", [H * D], false),
            ("k.w", [KV * D, C], true), ("k.b", [KV * D], false), ("v.w", [KV * D, C], true), ("o.w", [C, H * D], true)]);
        var rng = new Rng(5);
        foreach (var p in parameters.Parameters) rng.FillNormal(p.Value.Span, 0, 0.5);
        var weights = Random(B * T, C);

        double Run(bool backward)
        {
            using var arena = new Arena();
            var tape = new Tape { Enabled = backward };
            var ops = new Ops(arena, tape);
            Node P(string name) => ops.Parameter(parameters[name]);
            var x = ops.TokenEmbedding(P("embed"), tokenIds);
            var h = ops.RmsNorm(x, P("norm"), 1e-6f);
            var q = ops.Rotary(ops.LinearOutIn(h, P("q.w"), P("q.b")), cos, sin, positionIds, H, D);
            var k = ops.Rotary(ops.LinearOutIn(h, P("k.w"), P("k.b")), cos, sin, positionIds, KV, D);
            var v = ops.LinearOutIn(h, P("v.w"), null);
            var attention = ops.GroupedAttention(q, k, v, mask, B, T, H, KV, D);
            var gated = ops.SwiGlu(attention, attention);
            var y = ops.Add(x, ops.LinearOutIn(gated, P("o.w"), null));
            double loss = FiniteDifference.Dot(y.Value.Span, weights.Span);
            if (backward)
            {
                y.Gradient.CopyFrom(weights);
                tape.Backward();
            }
            return loss;
        }

        foreach (var p in parameters.Parameters) p.Gradient.Zero();
        Run(backward: true);
        foreach (var p in parameters.Parameters)
            FiniteDifference.Check(p.Name, p.Value.Span, p.Gradient.ToArray(), () => Run(backward: false), step: 1e-3, maxChecks: 60);
    }
}
