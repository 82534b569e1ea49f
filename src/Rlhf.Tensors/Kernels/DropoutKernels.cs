// Inverted dropout as torch.nn.functional.dropout: each value is kept with probability 1 − p and scaled by 1/(1 − p).
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class DropoutKernels
{
    /// <summary>mask[i] = 0 with probability p, else 1/(1 − p); one uniform draw per value, in order.</summary>
    public static void FillMask(float* mask, long count, float probability, Rng random)
    {
        float keep = 1f / (1f - probability);
        for (long i = 0; i < count; i++) mask[i] = random.NextDouble() < probability ? 0f : keep;
    }

    /// <summary>
    /// output[i] = mask[i]·input[i] (forward), or with accumulate output[i] += mask[i]·input[i] (backward:
    /// dInput += mask·dOutput, since ∂(m·x)/∂x = m).
    /// </summary>
    public static void Multiply(float* output, float* input, float* mask, long count, bool accumulate = false)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= count - 16; i += 16)
            {
                var x = Vector512.Load(input + i) * Vector512.Load(mask + i);
                (accumulate ? Vector512.Load(output + i) + x : x).Store(output + i);
            }
        }
        for (; i < count; i++) output[i] = accumulate ? output[i] + mask[i] * input[i] : mask[i] * input[i];
    }
}
