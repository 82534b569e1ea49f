// Inference attention over a KV cache: appends the new tokens' keys and values, then lets each new query
// attend to every cached slot up to its own (causal), skipping padded slots.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

public static unsafe class CachedAttentionKernels
{
    [ThreadStatic] private static float[]? scoreScratch;

    /// <summary>
    /// Slots per row of the transposed key cache: the capacity rounded up to a whole vector, so the score loop
    /// never needs a partial load (the extra slots are computed and ignored).
    /// </summary>
    public static int KeyStride(int capacity) => (capacity + 15) / 16 * 16;

    /// <summary>
    /// qkv [B, n, 3C] holds the projections of n new tokens occupying cache slots [start, start + n).
    /// keyCache [B, H, HS, KeyStride(capacity)] (keys transposed: one row per channel, so the scores of many slots come
    /// out of one vector FMA) and valueCache [B, H, capacity, HS] receive their keys and values; keyMask [B, capacity]
    /// marks real slots (1) and padding (0). output [B, n, C]: query i of row b attends to slots j ≤ start + i with
    /// keyMask[b, j] ≠ 0 (softmax of q·k/√HS); a query with no visible slot outputs zeros.
    /// </summary>
    public static void Forward(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int batch, int newTokens, int start, int capacity, int channels, int heads)
    {
        Validate(newTokens, start, capacity, channels, heads);
        int pairs = batch * heads;
        Parallelism.For(pairs, 1, (first, last) =>
        {
            for (int pair = first; pair < last; pair++) ForwardPair(output, qkv, keyCache, valueCache, keyMask, pair, newTokens, start, capacity, channels, heads, vectorized: true);
        });
    }

    /// <summary>Scalar reference of <see cref="Forward"/> (single-threaded).</summary>
    public static void ForwardScalar(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int batch, int newTokens, int start, int capacity, int channels, int heads)
    {
        Validate(newTokens, start, capacity, channels, heads);
        for (int pair = 0; pair < batch * heads; pair++) ForwardPair(output, qkv, keyCache, valueCache, keyMask, pair, newTokens, start, capacity, channels, heads, vectorized: false);
    }

    private static void Validate(int newTokens, int start, int capacity, int channels, int heads)
    {
        if (heads <= 0 || channels % heads != 0) throw new ArgumentException($"channels ({channels}) must be divisible by heads ({heads}).");
        if (start < 0 || start + newTokens > capacity) throw new ArgumentOutOfRangeException(nameof(start), $"Slots [{start}, {start + newTokens}) exceed the cache capacity {capacity}.");
    }

    private static void ForwardPair(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int pair, int newTokens, int start, int capacity, int channels, int heads, bool vectorized)
    {
        int b = pair / heads, h = pair % heads, HS = channels / heads, C3 = 3 * channels, stride = KeyStride(capacity);
        float scale = 1f / MathF.Sqrt(HS);
        float* keys = keyCache + (long)pair * HS * stride;
        float* values = valueCache + (long)pair * capacity * HS;
        float* mask = keyMask + (long)b * capacity;
        float* rows = qkv + (long)b * newTokens * C3 + h * HS;
        for (int i = 0; i < newTokens; i++)
        {
            float* k = rows + (long)i * C3 + channels;
            for (int d = 0; d < HS; d++) keys[(long)d * stride + start + i] = k[d];
            Buffer.MemoryCopy(rows + (long)i * C3 + 2 * channels, values + (long)(start + i) * HS, HS * 4L, HS * 4L);
        }
        float* scores = KernelSupport.Scratch(ref scoreScratch, stride);
        for (int i = 0; i < newTokens; i++)
        {
            float* q = rows + (long)i * C3;
            float* o = output + ((long)b * newTokens + i) * channels + h * HS;
            int visible = start + i + 1;
            // s_j = q·k_j / √HS for every slot j < visible (masked slots become −∞, hence probability 0).
            if (vectorized) Scores(q, keys, stride, HS, visible, scores);
            else
                for (int j = 0; j < visible; j++)
                {
                    float dot = 0;
                    for (int d = 0; d < HS; d++) dot += q[d] * keys[(long)d * stride + j];
                    scores[j] = dot;
                }
            float max = float.NegativeInfinity;
            for (int j = 0; j < visible; j++)
            {
                scores[j] = mask[j] == 0 ? float.NegativeInfinity : scores[j] * scale;
                max = MathF.Max(max, scores[j]);
            }
            if (float.IsNegativeInfinity(max))
            {
                new Span<float>(o, HS).Clear(); // no visible key: zeros, never NaN
                continue;
            }
            float sum = vectorized ? ExpInPlace(scores, visible, max) : ExpInPlaceScalar(scores, visible, max);
            float inverse = 1f / sum;
            // o = Σ_j p_j v_j
            if (vectorized) WeightedSum(scores, values, HS, visible, inverse, o);
            else
                for (int d = 0; d < HS; d++)
                {
                    float acc = 0;
                    for (int j = 0; j < visible; j++) acc += scores[j] * values[(long)j * HS + d];
                    o[d] = acc * inverse;
                }
        }
    }

    /// <summary>scores[j] = Σ_d q[d]·keys[d, j] for j &lt; visible (rounded up to whole vectors, within the stride).</summary>
    private static void Scores(float* q, float* keys, int stride, int HS, int visible, float* scores)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j < visible - 48; j += 64)
            {
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* column = keys + j;
                for (int d = 0; d < HS; d++, column += stride)
                {
                    var x = Vector512.Create(q[d]);
                    s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(column), s0);
                    s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(column + 16), s1);
                    s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(column + 32), s2);
                    s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(column + 48), s3);
                }
                s0.Store(scores + j); s1.Store(scores + j + 16); s2.Store(scores + j + 32); s3.Store(scores + j + 48);
            }
            for (; j < visible; j += 16)
            {
                Vector512<float> s = default;
                float* column = keys + j;
                for (int d = 0; d < HS; d++, column += stride) s = Vector512.FusedMultiplyAdd(Vector512.Create(q[d]), Vector512.Load(column), s);
                s.Store(scores + j);
            }
            return;
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j < visible; j += 8)
            {
                Vector256<float> s = default;
                float* column = keys + j;
                for (int d = 0; d < HS; d++, column += stride) s = Vector256.FusedMultiplyAdd(Vector256.Create(q[d]), Vector256.Load(column), s);
                s.Store(scores + j);
            }
            return;
        }
        for (; j < visible; j++)
        {
            float dot = 0;
            for (int d = 0; d < HS; d++) dot += q[d] * keys[(long)d * stride + j];
            scores[j] = dot;
        }
    }

    /// <summary>scores[j] = exp(scores[j] − max) for j &lt; visible; returns their sum.</summary>
    private static float ExpInPlace(float* scores, int visible, float max)
    {
        int j = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(max);
            var acc = Vector512<float>.Zero;
            for (; j <= visible - 16; j += 16)
            {
                var e = VectorMath.Exp(Vector512.Load(scores + j) - m);
                e.Store(scores + j);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(max);
            var acc = Vector256<float>.Zero;
            for (; j <= visible - 8; j += 8)
            {
                var e = VectorMath.Exp(Vector256.Load(scores + j) - m);
                e.Store(scores + j);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; j < visible; j++)
        {
            float e = MathF.Exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        return sum;
    }

    private static float ExpInPlaceScalar(float* scores, int visible, float max)
    {
        float sum = 0;
        for (int j = 0; j < visible; j++)
        {
            scores[j] = MathF.Exp(scores[j] - max);
            sum += scores[j];
        }
        return sum;
    }

    /// <summary>o[d] = scale · Σ_{j &lt; visible} p[j]·values[j, d], one vector of channels kept in a register over all slots.</summary>
    private static void WeightedSum(float* p, float* values, int HS, int visible, float scale, float* o)
    {
        int d = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // Four vectors of channels at once (GPT-2's head size is 64): each value row is read whole, once.
            for (; d <= HS - 64; d += 64)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* row = values + d;
                for (int j = 0; j < visible; j++, row += HS)
                {
                    var w = Vector512.Create(p[j]);
                    a0 = Vector512.FusedMultiplyAdd(w, Vector512.Load(row), a0);
                    a1 = Vector512.FusedMultiplyAdd(w, Vector512.Load(row + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(w, Vector512.Load(row + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(w, Vector512.Load(row + 48), a3);
                }
                var s = Vector512.Create(scale);
                (a0 * s).Store(o + d); (a1 * s).Store(o + d + 16); (a2 * s).Store(o + d + 32); (a3 * s).Store(o + d + 48);
            }
            for (; d <= HS - 16; d += 16)
            {
                Vector512<float> acc0 = default, acc1 = default;
                float* row = values + d;
                int j = 0;
                for (; j <= visible - 2; j += 2, row += 2 * HS)
                {
                    acc0 = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), Vector512.Load(row), acc0);
                    acc1 = Vector512.FusedMultiplyAdd(Vector512.Create(p[j + 1]), Vector512.Load(row + HS), acc1);
                }
                if (j < visible) acc0 = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), Vector512.Load(row), acc0);
                ((acc0 + acc1) * Vector512.Create(scale)).Store(o + d);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; d <= HS - 8; d += 8)
            {
                Vector256<float> acc = default;
                float* row = values + d;
                for (int j = 0; j < visible; j++, row += HS) acc = Vector256.FusedMultiplyAdd(Vector256.Create(p[j]), Vector256.Load(row), acc);
                (acc * Vector256.Create(scale)).Store(o + d);
            }
        }
        for (; d < HS; d++)
        {
            float acc = 0;
            for (int j = 0; j < visible; j++) acc += p[j] * values[(long)j * HS + d];
            o[d] = acc * scale;
        }
    }
}
