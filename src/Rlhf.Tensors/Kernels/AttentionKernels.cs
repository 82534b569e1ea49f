// Causal multi-head self-attention with a key padding mask (GPT-2 attention core after the QKV projection):
// per (batch, head) GEMMs for QKᵀ and P·V, a masked softmax, and the matching backward pass.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

public static unsafe class AttentionKernels
{
    [ThreadStatic] private static float[]? gradScratch;

    // Query rows per causal block: smaller skips more of the upper triangle, larger keeps the GEMMs efficient.
    private const int CausalBlock = 64;

    /// <summary>
    /// qkv[B, T, 3C] holds q in columns [0, C), k in [C, 2C), v in [2C, 3C); head h uses columns
    /// h·HS..(h+1)·HS of each (HS = C / heads). keyMask[B, T] (1 = real token, 0 = padding) or null.
    /// Query i attends to keys j ≤ i with keyMask[b, j] ≠ 0: probs[B, H, T, T] = softmax_j(q_i·k_j / √HS)
    /// (exactly 0 at masked and future positions; an all-zero row where no key is valid), and
    /// output[B, T, C] = concat_h(probs · v). Parallel over the B·H (batch, head) pairs.
    /// </summary>
    public static void Forward(float* output, float* probs, float* qkv, float* keyMask, int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        int pairs = batch * heads;
        if (pairs <= 0 || tokens <= 0) return;
        int T = tokens, C = channels, HS = channels / heads, C3 = 3 * channels;
        float scale = 1f / MathF.Sqrt(HS);
        Parallelism.For(pairs, MinPairs(pairs, T, HS), (start, end) =>
        {
            for (int pair = start; pair < end; pair++)
            {
                int b = pair / heads, h = pair % heads;
                float* q = qkv + (long)b * T * C3 + h * HS;
                float* k = q + C;
                float* v = q + 2 * C;
                float* p = probs + (long)pair * T * T;
                float* mask = keyMask == null ? null : keyMask + (long)b * T;
                float* o = output + (long)b * T * C + h * HS;
                // Causal row blocks: queries [i0, i1) only see keys [0, i1), so the upper triangle is never computed.
                for (int i0 = 0; i0 < T; i0 += CausalBlock)
                {
                    int rows = Math.Min(CausalBlock, T - i0), keys = i0 + rows;
                    float* pBlock = p + (long)i0 * T;
                    // S = scale · Q Kᵀ  [rows, keys], written straight into the probabilities buffer.
                    Gemm.Sgemm(false, true, rows, keys, HS, scale, q + (long)i0 * C3, C3, k, C3, 0f, pBlock, T, parallel: false);
                    for (int i = i0; i < keys; i++) SoftmaxRow(p + (long)i * T, mask, i, T);
                    // O_h = P V  [rows, HS] into columns h·HS.. of output[b].
                    Gemm.Sgemm(false, false, rows, HS, keys, 1f, pBlock, T, v, C3, 0f, o + (long)i0 * C, C, parallel: false);
                }
            }
        });
    }

    public static void ForwardScalar(float* output, float* probs, float* qkv, float* keyMask, int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        int T = tokens, C = channels, HS = channels / heads, C3 = 3 * channels;
        float scale = 1f / MathF.Sqrt(HS);
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            float* p = probs + ((long)b * heads + h) * T * T;
            for (int i = 0; i < T; i++)
            {
                float* row = p + (long)i * T;
                float* q = qkv + ((long)b * T + i) * C3 + h * HS;
                float max = float.NegativeInfinity;
                for (int j = 0; j < T; j++)
                {
                    row[j] = 0;
                    if (j > i || (keyMask != null && keyMask[(long)b * T + j] == 0)) continue;
                    float* k = qkv + ((long)b * T + j) * C3 + C + h * HS;
                    float dot = 0;
                    for (int d = 0; d < HS; d++) dot += q[d] * k[d];
                    row[j] = dot * scale;
                    max = MathF.Max(max, row[j]);
                }
                float sum = 0;
                if (max != float.NegativeInfinity)
                {
                    for (int j = 0; j <= i; j++)
                    {
                        if (keyMask != null && keyMask[(long)b * T + j] == 0) continue;
                        row[j] = MathF.Exp(row[j] - max);
                        sum += row[j];
                    }
                    for (int j = 0; j <= i; j++) row[j] /= sum;
                }
                float* o = output + ((long)b * T + i) * C + h * HS;
                for (int d = 0; d < HS; d++)
                {
                    float acc = 0;
                    for (int j = 0; j <= i; j++) acc += row[j] * qkv[((long)b * T + j) * C3 + 2 * C + h * HS + d];
                    o[d] = acc;
                }
            }
        }
    }

    /// <summary>
    /// Adds the gradient w.r.t. qkv[B, T, 3C] into qkvGrad given outputGrad[B, T, C] and the saved probs[B, H, T, T].
    /// Derivation, per (b, h) with O = P V, P = softmax(S), S = scale·Q Kᵀ:
    /// dV = Pᵀ dO and dP = dO Vᵀ; softmax backward per row: dS = P ∘ (dP − rowsum(dP ∘ P));
    /// then dQ = scale·dS K and dK = scale·dSᵀ Q. Masked/future entries have P = 0, hence dS = 0 there.
    /// Each (b, h) owns disjoint qkvGrad columns, so the pairs run in parallel without races.
    /// </summary>
    public static void Backward(float* qkvGrad, float* outputGrad, float* qkv, float* probs, float* keyMask,
        int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        int pairs = batch * heads;
        if (pairs <= 0 || tokens <= 0) return;
        int T = tokens, C = channels, HS = channels / heads, C3 = 3 * channels;
        float scale = 1f / MathF.Sqrt(HS);
        Parallelism.For(pairs, MinPairs(pairs, T, HS), (start, end) =>
        {
            float* dp = KernelSupport.Scratch(ref gradScratch, (long)T * T);
            for (int pair = start; pair < end; pair++)
            {
                int b = pair / heads, h = pair % heads;
                long qOffset = (long)b * T * C3 + h * HS;
                float* q = qkv + qOffset;
                float* k = q + C;
                float* v = q + 2 * C;
                float* dq = qkvGrad + qOffset;
                float* dk = dq + C;
                float* dv = dq + 2 * C;
                float* p = probs + (long)pair * T * T;
                float* dout = outputGrad + (long)b * T * C + h * HS;
                // Causal row blocks as in Forward: queries [i0, i1) touch keys [0, i1) only (P = 0 beyond).
                for (int i0 = 0; i0 < T; i0 += CausalBlock)
                {
                    int rows = Math.Min(CausalBlock, T - i0), keys = i0 + rows;
                    float* pBlock = p + (long)i0 * T, dpBlock = dp + (long)i0 * T;
                    long rowOffset = (long)i0 * C3;
                    // dP = dO Vᵀ  [rows, keys]
                    Gemm.Sgemm(false, true, rows, keys, HS, 1f, dout + (long)i0 * C, C, v, C3, 0f, dpBlock, T, parallel: false);
                    // dV[0, keys) += Pᵀ dO  [keys, HS]
                    Gemm.Sgemm(true, false, keys, HS, rows, 1f, pBlock, T, dout + (long)i0 * C, C, 1f, dv, C3, parallel: false);
                    for (int i = i0; i < keys; i++) SoftmaxBackwardRow(dp + (long)i * T, p + (long)i * T, i, T);
                    // dQ[i0, i1) += scale · dS K, dK[0, keys) += scale · dSᵀ Q
                    Gemm.Sgemm(false, false, rows, HS, keys, scale, dpBlock, T, k, C3, 1f, dq + rowOffset, C3, parallel: false);
                    Gemm.Sgemm(true, false, keys, HS, rows, scale, dpBlock, T, q + rowOffset, C3, 1f, dk, C3, parallel: false);
                }
            }
        });
    }

    public static void BackwardScalar(float* qkvGrad, float* outputGrad, float* qkv, float* probs, float* keyMask,
        int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        int T = tokens, C = channels, HS = channels / heads, C3 = 3 * channels;
        float scale = 1f / MathF.Sqrt(HS);
        var dpRow = new float[Math.Max(1, T)];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            float* p = probs + ((long)b * heads + h) * T * T;
            for (int i = 0; i < T; i++)
            {
                float* row = p + (long)i * T;
                float* dout = outputGrad + ((long)b * T + i) * C + h * HS;
                float* q = qkv + ((long)b * T + i) * C3 + h * HS;
                float* dq = qkvGrad + ((long)b * T + i) * C3 + h * HS;
                float rowDot = 0;
                for (int j = 0; j <= i; j++)
                {
                    float* v = qkv + ((long)b * T + j) * C3 + 2 * C + h * HS;
                    float* dv = qkvGrad + ((long)b * T + j) * C3 + 2 * C + h * HS;
                    float dot = 0;
                    for (int d = 0; d < HS; d++)
                    {
                        dot += dout[d] * v[d];
                        dv[d] += row[j] * dout[d];
                    }
                    dpRow[j] = dot;
                    rowDot += dot * row[j];
                }
                for (int j = 0; j <= i; j++)
                {
                    float ds = row[j] * (dpRow[j] - rowDot) * scale;
                    if (ds == 0) continue;
                    float* k = qkv + ((long)b * T + j) * C3 + C + h * HS;
                    float* dk = qkvGrad + ((long)b * T + j) * C3 + C + h * HS;
                    for (int d = 0; d < HS; d++)
                    {
                        dq[d] += ds * k[d];
                        dk[d] += ds * q[d];
                    }
                }
            }
        }
    }

    private static void Validate(int channels, int heads)
    {
        if (heads <= 0 || channels % heads != 0)
            throw new ArgumentException($"channels ({channels}) must be a positive multiple of heads ({heads}).");
    }

    // Run inline when the whole call is tiny; otherwise one (batch, head) pair per work item.
    private static int MinPairs(int pairs, int tokens, int headSize) =>
        (long)pairs * tokens * tokens * headSize < 32768 ? pairs : 1;

    /// <summary>Masked softmax of row i in place: keys j ≤ i with a nonzero mask; everything else becomes 0.</summary>
    private static void SoftmaxRow(float* row, float* mask, int i, int T)
    {
        int n = i + 1;
        float max = float.NegativeInfinity;
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var ninf = Vector512.Create(float.NegativeInfinity);
            var vmax = ninf;
            for (; j <= n - 16; j += 16)
            {
                var x = Vector512.Load(row + j);
                if (mask != null)
                {
                    x = Vector512.ConditionalSelect(Vector512.Equals(Vector512.Load(mask + j), Vector512<float>.Zero), ninf, x);
                    x.Store(row + j);
                }
                vmax = Vector512.Max(vmax, x);
            }
            max = Vector512.Max(vmax, Vector512.Create(max)).ToScalar();
            for (int lane = 1; lane < 16; lane++) max = MathF.Max(max, vmax.GetElement(lane));
        }
        for (; j < n; j++)
        {
            if (mask != null && mask[j] == 0) row[j] = float.NegativeInfinity;
            else if (row[j] > max) max = row[j];
        }
        new Span<float>(row + n, T - n).Clear();
        if (max == float.NegativeInfinity)
        {
            new Span<float>(row, n).Clear();
            return;
        }
        int c = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vmax = Vector512.Create(max);
            var ninf = Vector512.Create(float.NegativeInfinity);
            var acc = Vector512<float>.Zero;
            for (; c <= n - 16; c += 16)
            {
                var x = Vector512.Load(row + c);
                var e = Vector512.ConditionalSelect(Vector512.Equals(x, ninf), Vector512<float>.Zero, VectorMath.Exp(x - vmax));
                Vector512.Store(e, row + c);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vmax = Vector256.Create(max);
            var ninf = Vector256.Create(float.NegativeInfinity);
            var acc = Vector256<float>.Zero;
            for (; c <= n - 8; c += 8)
            {
                var x = Vector256.Load(row + c);
                var e = Vector256.ConditionalSelect(Vector256.Equals(x, ninf), Vector256<float>.Zero, VectorMath.Exp(x - vmax));
                Vector256.Store(e, row + c);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; c < n; c++)
        {
            float e = row[c] == float.NegativeInfinity ? 0f : MathF.Exp(row[c] - max);
            row[c] = e;
            sum += e;
        }
        float inv = 1f / sum;
        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vinv = Vector512.Create(inv);
            for (; c <= n - 16; c += 16) Vector512.Store(Vector512.Load(row + c) * vinv, row + c);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vinv = Vector256.Create(inv);
            for (; c <= n - 8; c += 8) Vector256.Store(Vector256.Load(row + c) * vinv, row + c);
        }
        for (; c < n; c++) row[c] *= inv;
    }

    /// <summary>dS = P ∘ (dP − Σ_j dP∘P) in place over dp for keys j ≤ i; future entries become 0.</summary>
    private static void SoftmaxBackwardRow(float* dp, float* p, int i, int T)
    {
        int n = i + 1;
        int c = 0;
        float dot = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; c <= n - 16; c += 16) acc += Vector512.Load(dp + c) * Vector512.Load(p + c);
            dot = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; c <= n - 8; c += 8) acc += Vector256.Load(dp + c) * Vector256.Load(p + c);
            dot = Vector256.Sum(acc);
        }
        for (; c < n; c++) dot += dp[c] * p[c];
        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vdot = Vector512.Create(dot);
            for (; c <= n - 16; c += 16)
                Vector512.Store(Vector512.Load(p + c) * (Vector512.Load(dp + c) - vdot), dp + c);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vdot = Vector256.Create(dot);
            for (; c <= n - 8; c += 8)
                Vector256.Store(Vector256.Load(p + c) * (Vector256.Load(dp + c) - vdot), dp + c);
        }
        for (; c < n; c++) dp[c] = p[c] * (dp[c] - dot);
        new Span<float>(dp + n, T - n).Clear();
    }
}
