// Rotary position embedding (RoFormer, arXiv:2104.09864) in transformers' half-split convention (apply_rotary_pos_emb
// with rotate_half): within each head of D values, element i pairs with element i + D/2.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

public static unsafe class RotaryKernels
{
    /// <summary>
    /// input/output [N, H·D] (q or k of N tokens, H heads of D = headDim values; output may equal input). With
    /// half = D/2, p = positionIds[n], c = cos[p, i] and s = sin[p, i] (tables [P, half]) for i &lt; half:
    /// y[i] = x[i]·c − x[i + half]·s and y[i + half] = x[i + half]·c + x[i]·s, i.e. x·cos + rotate_half(x)·sin with
    /// transformers' cos = cat(cos, cos). Parallel over tokens.
    /// </summary>
    public static void Forward(float* output, float* input, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim)
    {
        Validate(headDim);
        if (rows <= 0 || heads <= 0 || headDim == 0) return;
        int width = heads * headDim;
        Parallelism.For(rows, Math.Max(1, 8192 / width), (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                int half = headDim / 2;
                float* c = cos + (long)positionIds[n] * half, s = sin + (long)positionIds[n] * half;
                for (int h = 0; h < heads; h++)
                {
                    long offset = (long)n * width + h * headDim;
                    Rotate(output + offset, input + offset, c, s, half);
                }
            }
        });
    }

    public static void ForwardScalar(float* output, float* input, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim)
    {
        Validate(headDim);
        int half = headDim / 2, width = heads * headDim;
        for (int n = 0; n < rows; n++)
            for (int h = 0; h < heads; h++)
            {
                float* x = input + (long)n * width + h * headDim;
                float* y = output + (long)n * width + h * headDim;
                for (int i = 0; i < half; i++)
                {
                    float c = cos[(long)positionIds[n] * half + i], s = sin[(long)positionIds[n] * half + i];
                    float x1 = x[i], x2 = x[i + half];
                    y[i] = x1 * c - x2 * s;
                    y[i + half] = x2 * c + x1 * s;
                }
            }
    }

    /// <summary>
    /// inputGrad [N, H·D] += the rotation's transpose applied to outputGrad: each pair is rotated by −θ, so
    /// dx[i] = dy[i]·c + dy[i + half]·s and dx[i + half] = dy[i + half]·c − dy[i]·s.
    /// </summary>
    public static void Backward(float* inputGrad, float* outputGrad, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim)
    {
        Validate(headDim);
        if (rows <= 0 || heads <= 0 || headDim == 0) return;
        int width = heads * headDim;
        Parallelism.For(rows, Math.Max(1, 8192 / width), (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                int half = headDim / 2;
                float* c = cos + (long)positionIds[n] * half, s = sin + (long)positionIds[n] * half;
                for (int h = 0; h < heads; h++)
                {
                    long offset = (long)n * width + h * headDim;
                    RotateAccumulate(inputGrad + offset, outputGrad + offset, c, s, half);
                }
            }
        });
    }

    public static void BackwardScalar(float* inputGrad, float* outputGrad, float* cos, float* sin, int* positionIds, int rows, int heads, int headDim)
    {
        Validate(headDim);
        int half = headDim / 2, width = heads * headDim;
        for (int n = 0; n < rows; n++)
            for (int h = 0; h < heads; h++)
            {
                float* dy = outputGrad + (long)n * width + h * headDim;
                float* dx = inputGrad + (long)n * width + h * headDim;
                for (int i = 0; i < half; i++)
                {
                    float c = cos[(long)positionIds[n] * half + i], s = sin[(long)positionIds[n] * half + i];
                    dx[i] += dy[i] * c + dy[i + half] * s;
                    dx[i + half] += dy[i + half] * c - dy[i] * s;
                }
            }
    }

    private static void Validate(int headDim)
    {
        if (headDim < 0 || headDim % 2 != 0) throw new ArgumentException($"The rotary head dimension ({headDim}) must be even.", nameof(headDim));
    }

    /// <summary>One head: y = rotate(x) by the angles whose cos/sin are c/s (in place allowed).</summary>
    private static void Rotate(float* y, float* x, float* c, float* s, int half)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= half - 16; i += 16)
            {
                var x1 = Vector512.Load(x + i);
                var x2 = Vector512.Load(x + half + i);
                var vc = Vector512.Load(c + i);
                var vs = Vector512.Load(s + i);
                Vector512.Store(x1 * vc - x2 * vs, y + i);
                Vector512.Store(x2 * vc + x1 * vs, y + half + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= half - 8; i += 8)
            {
                var x1 = Vector256.Load(x + i);
                var x2 = Vector256.Load(x + half + i);
                var vc = Vector256.Load(c + i);
                var vs = Vector256.Load(s + i);
                Vector256.Store(x1 * vc - x2 * vs, y + i);
                Vector256.Store(x2 * vc + x1 * vs, y + half + i);
            }
        }
        for (; i < half; i++)
        {
            float x1 = x[i], x2 = x[i + half];
            y[i] = x1 * c[i] - x2 * s[i];
            y[i + half] = x2 * c[i] + x1 * s[i];
        }
    }

    /// <summary>One head: dx += rotate(dy) by the negated angles.</summary>
    private static void RotateAccumulate(float* dx, float* dy, float* c, float* s, int half)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= half - 16; i += 16)
            {
                var d1 = Vector512.Load(dy + i);
                var d2 = Vector512.Load(dy + half + i);
                var vc = Vector512.Load(c + i);
                var vs = Vector512.Load(s + i);
                Vector512.Store(Vector512.Load(dx + i) + (d1 * vc + d2 * vs), dx + i);
                Vector512.Store(Vector512.Load(dx + half + i) + (d2 * vc - d1 * vs), dx + half + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= half - 8; i += 8)
            {
                var d1 = Vector256.Load(dy + i);
                var d2 = Vector256.Load(dy + half + i);
                var vc = Vector256.Load(c + i);
                var vs = Vector256.Load(s + i);
                Vector256.Store(Vector256.Load(dx + i) + (d1 * vc + d2 * vs), dx + i);
                Vector256.Store(Vector256.Load(dx + half + i) + (d2 * vc - d1 * vs), dx + half + i);
            }
        }
        for (; i < half; i++)
        {
            float d1 = dy[i], d2 = dy[i + half];
            dx[i] += d1 * c[i] + d2 * s[i];
            dx[i + half] += d2 * c[i] - d1 * s[i];
        }
    }
}
