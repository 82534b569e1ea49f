// Rotary position embedding (RoFormer, arXiv:2104.09864) in transformers' half-split convention (apply_rotary_pos_emb
// with rotate_half): within each head of D values, element i pairs with element i + D/2.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class RotaryKernels
{
    /// <summary>
    /// input/output [N, H·D] (q or k of N tokens, H heads of D = headDim values; output may equal input). With
    /// half = D/2, p = positionIds[n], c = cos[p, i] and s = sin[p, i] (tables [P, half]) for i &lt; half:
    /// y[i] = x[i]·c − x[i + half]·s and y[i + half] = x[i + half]·c + x[i]·s, i.e. x·cos + rotate_half(x)·sin with
    /// transformers' cos = cat(cos, cos). Parallel over tokens.
    /// </summary>
    public static void Forward(float* output, float* input, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim) =>
        Apply(output, input, cos, sin, positionIds, rows, heads, headDim, backward: false, vectorized: true);

    public static void ForwardScalar(float* output, float* input, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim) =>
        Apply(output, input, cos, sin, positionIds, rows, heads, headDim, backward: false, vectorized: false);

    /// <summary>
    /// inputGrad [N, H·D] += the rotation's transpose applied to outputGrad: each pair is rotated by −θ, so
    /// dx[i] = dy[i]·c + dy[i + half]·s and dx[i + half] = dy[i + half]·c − dy[i]·s.
    /// </summary>
    public static void Backward(float* inputGrad, float* outputGrad, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim) =>
        Apply(inputGrad, outputGrad, cos, sin, positionIds, rows, heads, headDim, backward: true, vectorized: true);

    public static void BackwardScalar(float* inputGrad, float* outputGrad, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim) =>
        Apply(inputGrad, outputGrad, cos, sin, positionIds, rows, heads, headDim, backward: true, vectorized: false);

    /// <summary>Forward: destination = R(θ)·source; backward: destination += R(−θ)·source. The vectorised form runs in parallel.</summary>
    private static void Apply(float* destination, float* source, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim,
        bool backward, bool vectorized)
    {
        Validate(headDim);
        if (rows <= 0 || heads <= 0 || headDim == 0) return;
        int width = heads * headDim, half = headDim / 2;
        void Range(int start, int end)
        {
            for (int n = start; n < end; n++)
            {
                float* c = cos + (long)positionIds[n] * half, s = sin + (long)positionIds[n] * half;
                for (int h = 0; h < heads; h++)
                {
                    long offset = (long)n * width + h * headDim;
                    if (vectorized) Rotate(destination + offset, source + offset, c, s, half, backward);
                    else RotateScalar(destination + offset, source + offset, c, s, 0, half, backward);
                }
            }
        }
        if (vectorized) Parallelism.For(rows, Math.Max(1, 8192 / width), Range);
        else Range(0, rows);
    }

    private static void Validate(int headDim)
    {
        if (headDim < 0 || headDim % 2 != 0) throw new ArgumentException($"The rotary head dimension ({headDim}) must be even.", nameof(headDim));
    }

    /// <summary>
    /// One head, elements [from, half) of each half: y = R(θ)·x, or (backward) y += R(−θ)·x, where R(±θ) maps the pair
    /// (a, b) to (a·c ∓ b·s, b·c ± a·s).
    /// </summary>
    private static void RotateScalar(float* y, float* x, float* c, float* s, int from, int half, bool backward)
    {
        for (int i = from; i < half; i++)
        {
            float a = x[i], b = x[i + half];
            if (backward)
            {
                y[i] += a * c[i] + b * s[i];
                y[i + half] += b * c[i] - a * s[i];
            }
            else
            {
                y[i] = a * c[i] - b * s[i];
                y[i + half] = b * c[i] + a * s[i];
            }
        }
    }

    /// <summary>SIMD form of <see cref="RotateScalar"/> (in place allowed): the sine's sign flips for the backward.</summary>
    private static void Rotate(float* y, float* x, float* c, float* s, int half, bool backward)
    {
        int i = 0;
        float sign = backward ? -1f : 1f;
        if (Vector512.IsHardwareAccelerated)
        {
            var vsign = Vector512.Create(sign);
            for (; i <= half - 16; i += 16)
            {
                var a = Vector512.Load(x + i);
                var b = Vector512.Load(x + half + i);
                var vc = Vector512.Load(c + i);
                var vs = Vector512.Load(s + i) * vsign;
                var first = a * vc - b * vs;
                var second = b * vc + a * vs;
                if (backward)
                {
                    first += Vector512.Load(y + i);
                    second += Vector512.Load(y + half + i);
                }
                Vector512.Store(first, y + i);
                Vector512.Store(second, y + half + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vsign = Vector256.Create(sign);
            for (; i <= half - 8; i += 8)
            {
                var a = Vector256.Load(x + i);
                var b = Vector256.Load(x + half + i);
                var vc = Vector256.Load(c + i);
                var vs = Vector256.Load(s + i) * vsign;
                var first = a * vc - b * vs;
                var second = b * vc + a * vs;
                if (backward)
                {
                    first += Vector256.Load(y + i);
                    second += Vector256.Load(y + half + i);
                }
                Vector256.Store(first, y + i);
                Vector256.Store(second, y + half + i);
            }
        }
        RotateScalar(y, x, c, s, i, half, backward);
    }
}
