// Inference attention over a KV cache: appends the new tokens' keys and values, then lets each new query
// attend to every cached slot up to its own (causal), skipping padded slots.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class CachedAttentionKernels
{
    [ThreadStatic] private static float[]? scoreScratch;

    /// <summary>
    /// Slots per row of the transposed key cache: the capacity rounded up to a whole vector, so the score loop
    /// never needs a partial load (the extra slots are computed and ignored).
    /// </summary>
    public static int KeyStride(int capacity) => (capacity + 15) / 16 * 16;

    /// <summary>
    /// GPT-2's fused layout: qkv [B, n, 3C] holds the projections of n new tokens occupying cache slots [start, start + n).
    /// keyCache [B, H, HS, KeyStride(capacity)] (keys transposed: one row per channel, so the scores of many slots come
    /// out of one vector FMA) and valueCache [B, H, capacity, HS] receive their keys and values; keyMask [B, capacity]
    /// marks real slots (1) and padding (0). output [B, n, C]: query i of row b attends to slots j ≤ start + i with
    /// keyMask[b, j] ≠ 0 (softmax of q·k/√HS); a query with no visible slot outputs zeros. The grouped-query
    /// <see cref="Forward(float*, float*, float*, float*, float*, float*, float*, int, int, int, int, int, int, int, int, int)"/>
    /// with as many key/value heads as heads.
    /// </summary>
    public static void Forward(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int batch, int newTokens, int start, int capacity, int channels, int heads)
    {
        if (heads <= 0 || channels % heads != 0) throw new ArgumentException($"channels ({channels}) must be divisible by heads ({heads}).");
        Forward(output, keyCache, valueCache, qkv, qkv + channels, qkv + 2 * channels, keyMask,
            batch, newTokens, start, capacity, heads, heads, channels / heads, 3 * channels, 3 * channels);
    }

    /// <summary>Scalar reference of the fused-qkv <see cref="Forward(float*, float*, float*, float*, float*, int, int, int, int, int, int)"/> (single-threaded).</summary>
    public static void ForwardScalar(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int batch, int newTokens, int start, int capacity, int channels, int heads)
    {
        if (heads <= 0 || channels % heads != 0) throw new ArgumentException($"channels ({channels}) must be divisible by heads ({heads}).");
        ForwardScalar(output, keyCache, valueCache, qkv, qkv + channels, qkv + 2 * channels, keyMask,
            batch, newTokens, start, capacity, heads, heads, channels / heads, 3 * channels, 3 * channels);
    }

    /// <summary>
    /// Grouped-query decoding step (Llama, Qwen2). Row i of batch b is row b·n + i of query (row stride
    /// <paramref name="queryStride"/>, heads·D used), key and value (row stride <paramref name="keyValueStride"/>,
    /// kvHeads·D used): n new tokens occupying slots [start, start + n). keyCache [B, KV, D, KeyStride(capacity)]
    /// (transposed) and valueCache [B, KV, capacity, D] receive their keys and values; keyMask [B, capacity] marks real
    /// slots. output [B·n, H·D]: query head h attends with key/value head h / (heads / kvHeads) to slots j ≤ start + i
    /// with keyMask[b, j] ≠ 0 (softmax of q·k/√D); a query with no visible slot outputs zeros. Parallel over
    /// (batch, head) pairs after the cache append.
    /// </summary>
    public static void Forward(float* output, float* keyCache, float* valueCache, float* query, float* key, float* value, float* keyMask,
        int batch, int newTokens, int start, int capacity, int heads, int kvHeads, int headDim, int queryStride, int keyValueStride)
    {
        Validate(newTokens, start, capacity, heads, kvHeads, headDim);
        Parallelism.For(batch * kvHeads, Math.Max(1, 4096 / Math.Max(1, newTokens * headDim)), (first, last) =>
        {
            for (int g = first; g < last; g++) Append(keyCache, valueCache, key, value, g, newTokens, start, capacity, kvHeads, headDim, keyValueStride);
        });
        Parallelism.For(batch * heads, 1, (first, last) =>
        {
            for (int pair = first; pair < last; pair++)
                AttendPair(output, keyCache, valueCache, query, keyMask, pair, newTokens, start, capacity, heads, kvHeads, headDim, queryStride, vectorized: true);
        });
    }

    /// <summary>Scalar reference of the grouped-query <see cref="Forward(float*, float*, float*, float*, float*, float*, float*, int, int, int, int, int, int, int, int, int)"/> (single-threaded).</summary>
    public static void ForwardScalar(float* output, float* keyCache, float* valueCache, float* query, float* key, float* value, float* keyMask,
        int batch, int newTokens, int start, int capacity, int heads, int kvHeads, int headDim, int queryStride, int keyValueStride)
    {
        Validate(newTokens, start, capacity, heads, kvHeads, headDim);
        for (int g = 0; g < batch * kvHeads; g++) Append(keyCache, valueCache, key, value, g, newTokens, start, capacity, kvHeads, headDim, keyValueStride);
        for (int pair = 0; pair < batch * heads; pair++)
            AttendPair(output, keyCache, valueCache, query, keyMask, pair, newTokens, start, capacity, heads, kvHeads, headDim, queryStride, vectorized: false);
    }

    private static void Validate(int newTokens, int start, int capacity, int heads, int kvHeads, int headDim)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) throw new ArgumentException($"heads ({heads}) must be a positive multiple of the key/value heads ({kvHeads}).");
        if (headDim <= 0) throw new ArgumentException($"The head dimension ({headDim}) must be positive.");
        if (start < 0 || start + newTokens > capacity) throw new ArgumentOutOfRangeException(nameof(start), $"Slots [{start}, {start + newTokens}) exceed the cache capacity {capacity}.");
    }

    /// <summary>Writes the new tokens' keys (transposed) and values of (batch, key/value head) group g into the cache.</summary>
    private static void Append(float* keyCache, float* valueCache, float* key, float* value, int g, int newTokens, int start, int capacity,
        int kvHeads, int D, int keyValueStride)
    {
        int b = g / kvHeads, kvh = g % kvHeads, stride = KeyStride(capacity);
        float* keys = keyCache + (long)g * D * stride;
        float* values = valueCache + (long)g * capacity * D;
        for (int i = 0; i < newTokens; i++)
        {
            long row = ((long)b * newTokens + i) * keyValueStride + kvh * D;
            float* k = key + row;
            for (int d = 0; d < D; d++) keys[(long)d * stride + start + i] = k[d];
            Buffer.MemoryCopy(value + row, values + (long)(start + i) * D, D * 4L, D * 4L);
        }
    }

    private static void AttendPair(float* output, float* keyCache, float* valueCache, float* query, float* keyMask,
        int pair, int newTokens, int start, int capacity, int heads, int kvHeads, int HS, int queryStride, bool vectorized)
    {
        int b = pair / heads, h = pair % heads, stride = KeyStride(capacity), group = b * kvHeads + h / (heads / kvHeads);
        float scale = 1f / MathF.Sqrt(HS);
        float* keys = keyCache + (long)group * HS * stride;
        float* values = valueCache + (long)group * capacity * HS;
        float* mask = keyMask + (long)b * capacity;
        float* scores = KernelSupport.Scratch(ref scoreScratch, stride);
        for (int i = 0; i < newTokens; i++)
        {
            float* q = query + ((long)b * newTokens + i) * queryStride + h * HS;
            float* o = output + ((long)b * newTokens + i) * heads * HS + h * HS;
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
