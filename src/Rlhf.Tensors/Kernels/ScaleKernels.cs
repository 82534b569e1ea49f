// Multiplication by a constant (e.g. logits / temperature, applied to the input of a linear output layer).
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class ScaleKernels
{
    /// <summary>output[i] = factor · input[i]. Backward: dInput += factor · dOutput (the same kernel with accumulate).</summary>
    public static void Forward(float* output, float* input, float factor, long count, bool accumulate = false)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var f = Vector512.Create(factor);
            for (; i <= count - 16; i += 16)
            {
                var x = Vector512.Load(input + i) * f;
                (accumulate ? Vector512.Load(output + i) + x : x).Store(output + i);
            }
        }
        for (; i < count; i++) output[i] = accumulate ? output[i] + factor * input[i] : factor * input[i];
    }
}
