// GELU activation, tanh approximation (GPT-2's gelu_new): y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class GeluKernels
{
    private const float Scale = 0.7978845608028654f; // √(2/π)
    private const float Cubic = 0.044715f;

    /// <summary>output[N] = gelu(input[N]) (any shape, flattened; N = count).</summary>
    public static void Forward(float* output, float* input, long count) =>
        KernelSupport.ForElements(count, (s, e) => ForwardRange(output + s, input + s, e - s));

    public static void ForwardScalar(float* output, float* input, long count)
    {
        for (long i = 0; i < count; i++)
        {
            float x = input[i];
            float u = Scale * (x + Cubic * x * x * x);
            output[i] = 0.5f * x * (1f + MathF.Tanh(u));
        }
    }

    /// <summary>
    /// inputGrad[N] += outputGrad[N] · gelu'(input[N]). With u = s(x + k·x³) and t = tanh(u):
    /// y = ½x(1+t), so dy/dx = ½(1+t) + ½x·(1−t²)·du/dx, where du/dx = s(1 + 3k·x²).
    /// </summary>
    public static void Backward(float* inputGrad, float* input, float* outputGrad, long count) =>
        KernelSupport.ForElements(count, (s, e) => BackwardRange(inputGrad + s, input + s, outputGrad + s, e - s));

    public static void BackwardScalar(float* inputGrad, float* input, float* outputGrad, long count)
    {
        for (long i = 0; i < count; i++)
            inputGrad[i] += outputGrad[i] * ScalarDerivative(input[i]);
    }

    private static float ScalarDerivative(float x)
    {
        float x2 = x * x;
        float t = MathF.Tanh(Scale * (x + Cubic * x2 * x));
        return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * Scale * (1f + 3f * Cubic * x2);
    }

    private static void ForwardRange(float* output, float* input, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var half = Vector512.Create(0.5f);
            var one = Vector512.Create(1f);
            for (; i <= n - 16; i += 16)
            {
                var x = Vector512.Load(input + i);
                var u = (x + x * x * x * Cubic) * Scale;
                Vector512.Store(half * x * (one + KernelSupport.Tanh(u)), output + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0.5f);
            var one = Vector256.Create(1f);
            for (; i <= n - 8; i += 8)
            {
                var x = Vector256.Load(input + i);
                var u = (x + x * x * x * Cubic) * Scale;
                Vector256.Store(half * x * (one + KernelSupport.Tanh(u)), output + i);
            }
        }
        if (i < n) ForwardScalar(output + i, input + i, n - i);
    }

    private static void BackwardRange(float* inputGrad, float* input, float* outputGrad, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var half = Vector512.Create(0.5f);
            var one = Vector512.Create(1f);
            for (; i <= n - 16; i += 16)
            {
                var x = Vector512.Load(input + i);
                var x2 = x * x;
                var t = KernelSupport.Tanh((x + x2 * x * Cubic) * Scale);
                var du = (one + x2 * (3f * Cubic)) * Scale;
                var d = half * (one + t) + half * x * (one - t * t) * du;
                Vector512.Store(Vector512.Load(inputGrad + i) + Vector512.Load(outputGrad + i) * d, inputGrad + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0.5f);
            var one = Vector256.Create(1f);
            for (; i <= n - 8; i += 8)
            {
                var x = Vector256.Load(input + i);
                var x2 = x * x;
                var t = KernelSupport.Tanh((x + x2 * x * Cubic) * Scale);
                var du = (one + x2 * (3f * Cubic)) * Scale;
                var d = half * (one + t) + half * x * (one - t * t) * du;
                Vector256.Store(Vector256.Load(inputGrad + i) + Vector256.Load(outputGrad + i) * d, inputGrad + i);
            }
        }
        if (i < n) BackwardScalar(inputGrad + i, input + i, outputGrad + i, n - i);
    }
}
