// Inverted dropout (Srivastava et al. 2014, as torch.nn.Dropout): y = x·m, m = 0 with probability p, else 1/(1−p).
namespace Rlhf.Tensors.Kernels;

internal static unsafe class DropoutKernels
{
    /// <summary>Fills the mask: 0 with probability <paramref name="probability"/>, else 1/(1−p); deterministic given the seed.</summary>
    public static void FillMask(float* mask, long count, float probability, ulong seed)
    {
        var rng = new Rng(seed);
        float keep = 1f / (1f - probability);
        for (long i = 0; i < count; i++) mask[i] = rng.NextDouble() < probability ? 0f : keep;
    }

    /// <summary>output[i] = input[i]·mask[i]; with <paramref name="accumulate"/>, output[i] += input[i]·mask[i] (the backward).</summary>
    public static void Multiply(float* output, float* input, float* mask, long count, bool accumulate)
    {
        if (accumulate) for (long i = 0; i < count; i++) output[i] += input[i] * mask[i];
        else for (long i = 0; i < count; i++) output[i] = input[i] * mask[i];
    }
}
