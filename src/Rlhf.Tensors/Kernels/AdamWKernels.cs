// One AdamW update over a contiguous range of parameters, in PyTorch's order of operations.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter), as torch.optim.AdamW computes it:
/// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
/// g is first multiplied by <c>gradientScale</c> (global-norm clipping folded in: the same product
/// clip_grad_norm_ would have stored) and, with <c>zeroGradients</c>, set to 0 once read (the next step's zero_grad).
/// </summary>
internal static unsafe class AdamWKernels
{
    public static void Step(float* parameters, float* gradients, float* firstMoment, float* secondMoment, long count,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step,
        float gradientScale = 1f, bool zeroGradients = false)
    {
        float decayFactor = 1f - learningRate * weightDecay;
        float stepSize = (float)(learningRate / (1 - Math.Pow(beta1, step)));
        float inverseSqrtCorrection2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, step)));
        int chunks = (int)Math.Min(int.MaxValue, (count + 4095) / 4096);
        Parallelism.For(chunks, 16, (start, end) =>
        {
            long first = start * 4096L, last = Math.Min(count, end * 4096L);
            Update(parameters + first, gradients + first, firstMoment + first, secondMoment + first, last - first,
                decayFactor, stepSize, inverseSqrtCorrection2, beta1, beta2, epsilon, gradientScale, zeroGradients);
        });
    }

    private static void Update(float* p, float* g, float* m, float* v, long count, float decayFactor, float stepSize,
        float inverseSqrtCorrection2, float beta1, float beta2, float epsilon, float gradientScale, bool zeroGradients)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(beta1); var c1 = Vector512.Create(1 - beta1);
            var b2 = Vector512.Create(beta2); var c2 = Vector512.Create(1 - beta2);
            var decay = Vector512.Create(decayFactor); var size = Vector512.Create(stepSize);
            var correction = Vector512.Create(inverseSqrtCorrection2); var eps = Vector512.Create(epsilon);
            var scale = Vector512.Create(gradientScale);
            for (; i <= count - 16; i += 16)
            {
                var gi = Vector512.Load(g + i) * scale;
                if (zeroGradients) Vector512<float>.Zero.Store(g + i);
                var mi = b1 * Vector512.Load(m + i) + c1 * gi;
                var vi = b2 * Vector512.Load(v + i) + c2 * gi * gi;
                mi.Store(m + i);
                vi.Store(v + i);
                var denominator = Vector512.Sqrt(vi) * correction + eps;
                (Vector512.Load(p + i) * decay - size * mi / denominator).Store(p + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var b1 = Vector256.Create(beta1); var c1 = Vector256.Create(1 - beta1);
            var b2 = Vector256.Create(beta2); var c2 = Vector256.Create(1 - beta2);
            var decay = Vector256.Create(decayFactor); var size = Vector256.Create(stepSize);
            var correction = Vector256.Create(inverseSqrtCorrection2); var eps = Vector256.Create(epsilon);
            var scale = Vector256.Create(gradientScale);
            for (; i <= count - 8; i += 8)
            {
                var gi = Vector256.Load(g + i) * scale;
                if (zeroGradients) Vector256<float>.Zero.Store(g + i);
                var mi = b1 * Vector256.Load(m + i) + c1 * gi;
                var vi = b2 * Vector256.Load(v + i) + c2 * gi * gi;
                mi.Store(m + i);
                vi.Store(v + i);
                var denominator = Vector256.Sqrt(vi) * correction + eps;
                (Vector256.Load(p + i) * decay - size * mi / denominator).Store(p + i);
            }
        }
        UpdateScalar(p + i, g + i, m + i, v + i, count - i, decayFactor, stepSize, inverseSqrtCorrection2, beta1, beta2, epsilon,
            gradientScale, zeroGradients);
    }

    public static void UpdateScalar(float* p, float* g, float* m, float* v, long count, float decayFactor, float stepSize,
        float inverseSqrtCorrection2, float beta1, float beta2, float epsilon, float gradientScale = 1f, bool zeroGradients = false)
    {
        for (long i = 0; i < count; i++)
        {
            float gi = g[i] * gradientScale;
            if (zeroGradients) g[i] = 0;
            m[i] = beta1 * m[i] + (1 - beta1) * gi;
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
            p[i] = p[i] * decayFactor - stepSize * m[i] / (MathF.Sqrt(v[i]) * inverseSqrtCorrection2 + epsilon);
        }
    }

    /// <summary>Σ x² accumulated in double (for the global gradient norm).</summary>
    public static double SumOfSquares(float* values, long count)
    {
        double total = 0;
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= count - 1024; i += 1024)
            {
                var sum = Vector512<float>.Zero;
                for (long j = i; j < i + 1024; j += 16) { var x = Vector512.Load(values + j); sum += x * x; }
                total += Vector512.Sum(sum);
            }
        }
        for (; i < count; i++) total += (double)values[i] * values[i];
        return total;
    }

    public static void Scale(float* values, long count, float factor)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var f = Vector512.Create(factor);
            for (; i <= count - 16; i += 16) (Vector512.Load(values + i) * f).Store(values + i);
        }
        for (; i < count; i++) values[i] *= factor;
    }
}
