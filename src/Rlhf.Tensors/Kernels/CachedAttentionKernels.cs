// Inference attention over a KV cache: appends the new tokens' keys and values, then lets each new query
// attend to every cached slot up to its own (causal), skipping padded slots.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

public static unsafe class CachedAttentionKernels
{
    [ThreadStatic] private static float[]? scoreScratch;

    /// <summary>
    /// qkv [B, n, 3C] holds the projections of n new tokens occupying cache slots [start, start + n).
    /// keyCache, valueCache [B, H, capacity, HS] receive their keys and values; keyMask [B, capacity] marks
    /// real slots (1) and padding (0). output [B, n, C]: query i of row b attends to slots j ≤ start + i with
    /// keyMask[b, j] ≠ 0 (softmax of q·k/√HS); a query with no visible slot outputs zeros.
    /// </summary>
    public static void Forward(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int batch, int newTokens, int start, int capacity, int channels, int heads)
    {
        if (channels % heads != 0) throw new ArgumentException($"channels ({channels}) must be divisible by heads ({heads}).");
        if (start < 0 || start + newTokens > capacity) throw new ArgumentOutOfRangeException(nameof(start), $"Slots [{start}, {start + newTokens}) exceed the cache capacity {capacity}.");
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
        for (int pair = 0; pair < batch * heads; pair++) ForwardPair(output, qkv, keyCache, valueCache, keyMask, pair, newTokens, start, capacity, channels, heads, vectorized: false);
    }

    private static void ForwardPair(float* output, float* qkv, float* keyCache, float* valueCache, float* keyMask,
        int pair, int newTokens, int start, int capacity, int channels, int heads, bool vectorized)
    {
        int b = pair / heads, h = pair % heads, HS = channels / heads, C3 = 3 * channels;
        float scale = 1f / MathF.Sqrt(HS);
        float* keys = keyCache + (long)pair * capacity * HS;
        float* values = valueCache + (long)pair * capacity * HS;
        float* mask = keyMask + (long)b * capacity;
        float* rows = qkv + (long)b * newTokens * C3 + h * HS;
        long bytes = HS * 4L;
        for (int i = 0; i < newTokens; i++)
        {
            Buffer.MemoryCopy(rows + (long)i * C3 + channels, keys + (long)(start + i) * HS, bytes, bytes);
            Buffer.MemoryCopy(rows + (long)i * C3 + 2 * channels, values + (long)(start + i) * HS, bytes, bytes);
        }
        float* scores = KernelSupport.Scratch(ref scoreScratch, capacity);
        for (int i = 0; i < newTokens; i++)
        {
            float* q = rows + (long)i * C3;
            float* o = output + ((long)b * newTokens + i) * channels + h * HS;
            int visible = start + i + 1;
            float max = float.NegativeInfinity;
            for (int j = 0; j < visible; j++)
            {
                if (mask[j] == 0) continue;
                float s = (vectorized ? Dot(q, keys + (long)j * HS, HS) : DotScalar(q, keys + (long)j * HS, HS)) * scale;
                scores[j] = s;
                max = MathF.Max(max, s);
            }
            new Span<float>(o, HS).Clear();
            if (float.IsNegativeInfinity(max)) continue; // no visible key: zeros, never NaN
            float sum = 0;
            for (int j = 0; j < visible; j++)
            {
                if (mask[j] == 0) continue;
                float e = MathF.Exp(scores[j] - max);
                scores[j] = e;
                sum += e;
            }
            float inverse = 1f / sum;
            for (int j = 0; j < visible; j++)
            {
                if (mask[j] == 0) continue;
                if (vectorized) Axpy(o, values + (long)j * HS, scores[j] * inverse, HS);
                else AxpyScalar(o, values + (long)j * HS, scores[j] * inverse, HS);
            }
        }
    }

    private static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    private static float DotScalar(float* a, float* b, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y += alpha·x.</summary>
    private static void Axpy(float* y, float* x, float alpha, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(x + i), a, Vector512.Load(y + i)).Store(y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i), a, Vector256.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    private static void AxpyScalar(float* y, float* x, float alpha, int n)
    {
        for (int i = 0; i < n; i++) y[i] += alpha * x[i];
    }
}
