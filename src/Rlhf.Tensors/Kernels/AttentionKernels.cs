// Causal multi-head self-attention with a key padding mask, grouped-query (Llama, Qwen2: several query heads share a
// key/value head) or GPT-2's fused qkv: per (batch, head) GEMMs for QKᵀ and P·V over causal row blocks, a masked
// softmax, and the matching backward pass. As FlashAttention-2 (Dao 2023), the forward keeps only each row's
// logsumexp [B, H, T], not the probabilities [B, H, T, T]; the backward recomputes P = exp(s·QKᵀ − lse) block by block.
// The scalar references keep the probabilities (the textbook form).
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class AttentionKernels
{
    [ThreadStatic] private static float[]? forwardScratch;
    [ThreadStatic] private static float[]? backwardScratch;

    // Query rows per causal block: smaller skips more of the upper triangle, larger keeps the GEMMs efficient.
    private const int CausalBlock = 64;

    /// <summary>
    /// GPT-2's fused layout: qkv[B, T, 3C] holds q in columns [0, C), k in [C, 2C), v in [2C, 3C); head h uses columns
    /// h·HS..(h+1)·HS of each (HS = C / heads). keyMask[B, T] (1 = real token, 0 = padding) or null. The grouped-query
    /// <see cref="Forward(float*, float*, float*, float*, float*, float*, int, int, int, int, int, int, int)"/> with as
    /// many key/value heads as heads; logSumExp [B, H, T] (or null when no backward follows).
    /// </summary>
    public static void Forward(float* output, float* logSumExp, float* qkv, float* keyMask, int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        Forward(output, logSumExp, qkv, qkv + channels, qkv + 2 * channels, keyMask, batch, tokens, heads, heads, channels / heads, 3 * channels, 3 * channels);
    }

    public static void ForwardScalar(float* output, float* probs, float* qkv, float* keyMask, int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        ForwardScalar(output, probs, qkv, qkv + channels, qkv + 2 * channels, keyMask, batch, tokens, heads, heads, channels / heads, 3 * channels, 3 * channels);
    }

    /// <summary>
    /// Backward of the fused-qkv <see cref="Forward(float*, float*, float*, float*, int, int, int, int)"/> from its
    /// logSumExp: adds into qkvGrad[B, T, 3C].
    /// </summary>
    public static void Backward(float* qkvGrad, float* outputGrad, float* qkv, float* logSumExp, float* keyMask,
        int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        int C = channels, C3 = 3 * channels;
        Backward(qkvGrad, qkvGrad + C, qkvGrad + 2 * C, outputGrad, qkv, qkv + C, qkv + 2 * C, logSumExp, keyMask,
            batch, tokens, heads, heads, channels / heads, C3, C3);
    }

    public static void BackwardScalar(float* qkvGrad, float* outputGrad, float* qkv, float* probs, float* keyMask,
        int batch, int tokens, int channels, int heads)
    {
        Validate(channels, heads);
        int C = channels, C3 = 3 * channels;
        BackwardScalar(qkvGrad, qkvGrad + C, qkvGrad + 2 * C, outputGrad, qkv, qkv + C, qkv + 2 * C, probs, keyMask,
            batch, tokens, heads, heads, channels / heads, C3, C3);
    }

    /// <summary>
    /// Grouped-query causal attention (transformers' eager attention with repeat_kv). Row t of batch b is row b·T + t of
    /// query (row stride <paramref name="queryStride"/>, heads·D values used) and of key and value (row stride
    /// <paramref name="keyValueStride"/>, kvHeads·D values used). Query head h reads key/value head h / (heads / kvHeads).
    /// Query i attends to keys j ≤ i with keyMask[b, j] ≠ 0: P = softmax_j(q_i·k_j / √D) (exactly 0 at masked and future
    /// positions; an all-zero row where no key is valid) and output[B·T, H·D] = concat_h(P · v). Each row's P lives only
    /// in a per-thread block; logSumExp[B, H, T] (null: not kept) receives lse_i = log Σ_j exp(s_ij), +∞ for a row with
    /// no valid key, so that P = exp(s − lse). Parallel over the (batch, head) pairs.
    /// </summary>
    public static void Forward(float* output, float* logSumExp, float* query, float* key, float* value, float* keyMask,
        int batch, int tokens, int heads, int kvHeads, int headDim, int queryStride, int keyValueStride)
    {
        ValidateGroups(heads, kvHeads, headDim);
        int pairs = batch * heads;
        if (pairs <= 0 || tokens <= 0) return;
        int T = tokens, D = headDim, group = heads / kvHeads, outStride = heads * headDim;
        float scale = 1f / MathF.Sqrt(D);
        Parallelism.For(pairs, MinPairs(pairs, T, D), (start, end) =>
        {
            float* p = KernelSupport.Scratch(ref forwardScratch, (long)Math.Min(CausalBlock, T) * T);
            for (int pair = start; pair < end; pair++)
            {
                int b = pair / heads, h = pair % heads;
                float* q = query + (long)b * T * queryStride + h * D;
                float* k = key + (long)b * T * keyValueStride + h / group * D;
                float* v = value + (long)b * T * keyValueStride + h / group * D;
                float* lse = logSumExp == null ? null : logSumExp + (long)pair * T;
                float* mask = keyMask == null ? null : keyMask + (long)b * T;
                float* o = output + (long)b * T * outStride + h * D;
                // Causal row blocks: queries [i0, i1) only see keys [0, i1), so the upper triangle is never computed.
                for (int i0 = 0; i0 < T; i0 += CausalBlock)
                {
                    int rows = Math.Min(CausalBlock, T - i0), keys = i0 + rows;
                    // S = scale · Q Kᵀ  [rows, keys] (row stride keys), softmax in place.
                    Gemm.Sgemm(false, true, rows, keys, D, scale, q + (long)i0 * queryStride, queryStride, k, keyValueStride, 0f, p, keys, parallel: false);
                    for (int i = i0; i < keys; i++)
                    {
                        float rowLse = SoftmaxRow(p + (long)(i - i0) * keys, mask, i, keys);
                        if (lse != null) lse[i] = rowLse;
                    }
                    // O_h = P V  [rows, D] into columns h·D.. of output[b].
                    Gemm.Sgemm(false, false, rows, D, keys, 1f, p, keys, v, keyValueStride, 0f, o + (long)i0 * outStride, outStride, parallel: false);
                }
            }
        });
    }

    /// <summary>Scalar reference of the grouped-query <see cref="Forward(float*, float*, float*, float*, float*, float*, int, int, int, int, int, int, int)"/>.</summary>
    public static void ForwardScalar(float* output, float* probs, float* query, float* key, float* value, float* keyMask,
        int batch, int tokens, int heads, int kvHeads, int headDim, int queryStride, int keyValueStride)
    {
        ValidateGroups(heads, kvHeads, headDim);
        int T = tokens, D = headDim, group = heads / kvHeads, outStride = heads * headDim;
        float scale = 1f / MathF.Sqrt(D);
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            float* p = probs + ((long)b * heads + h) * T * T;
            int kvColumn = h / group * D;
            for (int i = 0; i < T; i++)
            {
                float* row = p + (long)i * T;
                float* q = query + ((long)b * T + i) * queryStride + h * D;
                float max = float.NegativeInfinity;
                for (int j = 0; j < T; j++)
                {
                    row[j] = 0;
                    if (j > i || (keyMask != null && keyMask[(long)b * T + j] == 0)) continue;
                    float* k = key + ((long)b * T + j) * keyValueStride + kvColumn;
                    float dot = 0;
                    for (int d = 0; d < D; d++) dot += q[d] * k[d];
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
                float* o = output + ((long)b * T + i) * outStride + h * D;
                for (int d = 0; d < D; d++)
                {
                    float acc = 0;
                    for (int j = 0; j <= i; j++) acc += row[j] * value[((long)b * T + j) * keyValueStride + kvColumn + d];
                    o[d] = acc;
                }
            }
        }
    }

    /// <summary>
    /// Adds the gradients w.r.t. query, key and value (same layouts and strides as their sources) given
    /// outputGrad[B·T, H·D] and the forward's logSumExp[B, H, T] (FlashAttention-2's backward, Dao 2023, Algorithm 2).
    /// Per (b, h) and causal row block, with S = scale·Q Kᵀ recomputed: P = exp(S − lse) (0 at masked and future keys),
    /// dV += Pᵀ dO, dP = dO Vᵀ, D_i = Σ_j P_ij dP_ij (FlashAttention's rowsum(dO ∘ O); the block holds whole rows, and
    /// this sum adds exact zeros at padding, so padded and unpadded batches agree as before), dS = P ∘ (dP − D),
    /// dQ += scale·dS K, dK += scale·dSᵀ Q. The query heads sharing a key/value head add their dK and dV in head order. Each (batch,
    /// key/value head) group owns disjoint gradient columns, so the groups run in parallel without races.
    /// </summary>
    public static void Backward(float* queryGrad, float* keyGrad, float* valueGrad, float* outputGrad, float* query, float* key, float* value,
        float* logSumExp, float* keyMask, int batch, int tokens, int heads, int kvHeads, int headDim, int queryStride, int keyValueStride)
    {
        ValidateGroups(heads, kvHeads, headDim);
        int groups = batch * kvHeads;
        if (groups <= 0 || tokens <= 0) return;
        int T = tokens, D = headDim, group = heads / kvHeads, outStride = heads * headDim;
        float scale = 1f / MathF.Sqrt(D);
        Parallelism.For(groups, MinPairs(groups, T, D * group), (start, end) =>
        {
            long block = (long)Math.Min(CausalBlock, T) * T;
            float* p = KernelSupport.Scratch(ref backwardScratch, 2 * block), dp = p + block;
            for (int g = start; g < end; g++)
            {
                int b = g / kvHeads, kvh = g % kvHeads;
                long kvOffset = (long)b * T * keyValueStride + kvh * D;
                float* k = key + kvOffset, v = value + kvOffset, dk = keyGrad + kvOffset, dv = valueGrad + kvOffset;
                float* mask = keyMask == null ? null : keyMask + (long)b * T;
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                {
                    long qOffset = (long)b * T * queryStride + h * D;
                    float* q = query + qOffset, dq = queryGrad + qOffset;
                    float* lse = logSumExp + ((long)b * heads + h) * T;
                    float* dout = outputGrad + (long)b * T * outStride + h * D;
                    // Causal row blocks as in Forward: queries [i0, i1) touch keys [0, i1) only (P = 0 beyond).
                    for (int i0 = 0; i0 < T; i0 += CausalBlock)
                    {
                        int rows = Math.Min(CausalBlock, T - i0), keys = i0 + rows;
                        float* doutBlock = dout + (long)i0 * outStride;
                        // P = exp(scale · Q Kᵀ − lse)  [rows, keys] (row stride keys)
                        Gemm.Sgemm(false, true, rows, keys, D, scale, q + (long)i0 * queryStride, queryStride, k, keyValueStride, 0f, p, keys, parallel: false);
                        for (int i = i0; i < keys; i++) ProbabilityRow(p + (long)(i - i0) * keys, mask, lse[i], i + 1, keys);
                        // dP = dO Vᵀ  [rows, keys]
                        Gemm.Sgemm(false, true, rows, keys, D, 1f, doutBlock, outStride, v, keyValueStride, 0f, dp, keys, parallel: false);
                        // dV[0, keys) += Pᵀ dO  [keys, D]
                        Gemm.Sgemm(true, false, keys, D, rows, 1f, p, keys, doutBlock, outStride, 1f, dv, keyValueStride, parallel: false);
                        for (int i = i0; i < keys; i++)
                        {
                            long r = (long)(i - i0) * keys;
                            SoftmaxBackwardRow(dp + r, p + r, Dot(dp + r, p + r, i + 1), keys);
                        }
                        // dQ[i0, i1) += scale · dS K, dK[0, keys) += scale · dSᵀ Q
                        Gemm.Sgemm(false, false, rows, D, keys, scale, dp, keys, k, keyValueStride, 1f, dq + (long)i0 * queryStride, queryStride, parallel: false);
                        Gemm.Sgemm(true, false, keys, D, rows, scale, dp, keys, q + (long)i0 * queryStride, queryStride, 1f, dk, keyValueStride, parallel: false);
                    }
                }
            }
        });
    }

    /// <summary>
    /// Scalar reference of the grouped-query <see cref="Backward(float*, float*, float*, float*, float*, float*, float*, float*, float*, int, int, int, int, int, int, int)"/>
    /// from the saved probs[B, H, T, T] of <see cref="ForwardScalar(float*, float*, float*, float*, float*, float*, int, int, int, int, int, int, int)"/>
    /// (softmax backward per row: dS = P ∘ (dP − rowsum(dP ∘ P))).
    /// </summary>
    public static void BackwardScalar(float* queryGrad, float* keyGrad, float* valueGrad, float* outputGrad, float* query, float* key, float* value,
        float* probs, float* keyMask, int batch, int tokens, int heads, int kvHeads, int headDim, int queryStride, int keyValueStride)
    {
        ValidateGroups(heads, kvHeads, headDim);
        int T = tokens, D = headDim, group = heads / kvHeads, outStride = heads * headDim;
        float scale = 1f / MathF.Sqrt(D);
        var dpRow = new float[Math.Max(1, T)];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            float* p = probs + ((long)b * heads + h) * T * T;
            int kvColumn = h / group * D;
            for (int i = 0; i < T; i++)
            {
                float* row = p + (long)i * T;
                float* dout = outputGrad + ((long)b * T + i) * outStride + h * D;
                float* q = query + ((long)b * T + i) * queryStride + h * D;
                float* dq = queryGrad + ((long)b * T + i) * queryStride + h * D;
                float rowDot = 0;
                for (int j = 0; j <= i; j++)
                {
                    float* v = value + ((long)b * T + j) * keyValueStride + kvColumn;
                    float* dv = valueGrad + ((long)b * T + j) * keyValueStride + kvColumn;
                    float dot = 0;
                    for (int d = 0; d < D; d++)
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
                    float* k = key + ((long)b * T + j) * keyValueStride + kvColumn;
                    float* dk = keyGrad + ((long)b * T + j) * keyValueStride + kvColumn;
                    for (int d = 0; d < D; d++)
                    {
                        dq[d] += ds * k[d];
                        dk[d] += ds * q[d];
                    }
                }
            }
        }
    }

    private static void ValidateGroups(int heads, int kvHeads, int headDim)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"heads ({heads}) must be a positive multiple of the key/value heads ({kvHeads}).");
        if (headDim <= 0) throw new ArgumentException($"The head dimension ({headDim}) must be positive.");
    }

    private static void Validate(int channels, int heads)
    {
        if (heads <= 0 || channels % heads != 0)
            throw new ArgumentException($"channels ({channels}) must be a positive multiple of heads ({heads}).");
    }

    // Run inline when the whole call is tiny; otherwise one (batch, head) pair per work item.
    private static int MinPairs(int pairs, int tokens, int headSize) =>
        (long)pairs * tokens * tokens * headSize < 32768 ? pairs : 1;

    /// <summary>
    /// Masked softmax of row i in place: keys j ≤ i with a nonzero mask; everything else (up to T) becomes 0. Returns the
    /// row's logsumexp, max + log Σ exp(s − max), or +∞ when no key is valid.
    /// </summary>
    private static float SoftmaxRow(float* row, float* mask, int i, int T)
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
            return float.PositiveInfinity;
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
        return max + MathF.Log(sum);
    }

    /// <summary>
    /// The probabilities of a row from its scores and logsumexp, in place: exp(s_j − lse) for keys j &lt; n with a nonzero
    /// mask, 0 at the others and up to <paramref name="width"/> (a row with no valid key has lse = +∞: all 0).
    /// </summary>
    private static void ProbabilityRow(float* row, float* mask, float lse, int n, int width)
    {
        new Span<float>(row + n, width - n).Clear();
        if (float.IsPositiveInfinity(lse))
        {
            new Span<float>(row, n).Clear();
            return;
        }
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vlse = Vector512.Create(lse);
            for (; c <= n - 16; c += 16)
            {
                var e = VectorMath.Exp(Vector512.Load(row + c) - vlse);
                if (mask != null) e = Vector512.ConditionalSelect(Vector512.Equals(Vector512.Load(mask + c), Vector512<float>.Zero), Vector512<float>.Zero, e);
                e.Store(row + c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vlse = Vector256.Create(lse);
            for (; c <= n - 8; c += 8)
            {
                var e = VectorMath.Exp(Vector256.Load(row + c) - vlse);
                if (mask != null) e = Vector256.ConditionalSelect(Vector256.Equals(Vector256.Load(mask + c), Vector256<float>.Zero), Vector256<float>.Zero, e);
                e.Store(row + c);
            }
        }
        for (; c < n; c++) row[c] = mask != null && mask[c] == 0 ? 0f : MathF.Exp(row[c] - lse);
    }

    /// <summary>Σ a[d]·b[d] over n values.</summary>
    private static float Dot(float* a, float* b, int n)
    {
        int d = 0;
        float dot = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; d <= n - 16; d += 16) acc += Vector512.Load(a + d) * Vector512.Load(b + d);
            dot = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; d <= n - 8; d += 8) acc += Vector256.Load(a + d) * Vector256.Load(b + d);
            dot = Vector256.Sum(acc);
        }
        for (; d < n; d++) dot += a[d] * b[d];
        return dot;
    }

    /// <summary>dS = P ∘ (dP − rowDot) in place over dp[0, width) (rowDot = Σ_j dP∘P; P = 0 beyond the causal edge).</summary>
    private static void SoftmaxBackwardRow(float* dp, float* p, float rowDot, int width)
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vdot = Vector512.Create(rowDot);
            for (; c <= width - 16; c += 16)
                Vector512.Store(Vector512.Load(p + c) * (Vector512.Load(dp + c) - vdot), dp + c);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vdot = Vector256.Create(rowDot);
            for (; c <= width - 8; c += 8)
                Vector256.Store(Vector256.Load(p + c) * (Vector256.Load(dp + c) - vdot), dp + c);
        }
        for (; c < width; c++) dp[c] = p[c] * (dp[c] - rowDot);
    }
}
