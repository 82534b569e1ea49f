// Residual connection: output = a + b, and its backward (each operand's gradient += the output gradient).
namespace Rlhf.Tensors.Kernels;

internal static unsafe class ResidualKernels
{
    /// <summary>output[N] = a[N] + b[N] (any shape, flattened; N = count). Parallel over chunks.</summary>
    public static void Forward(float* output, float* a, float* b, long count) =>
        KernelSupport.ForElements(count, (s, e) => KernelSupport.Add(output + s, a + s, b + s, e - s));

    public static void ForwardScalar(float* output, float* a, float* b, long count)
    {
        for (long i = 0; i < count; i++) output[i] = a[i] + b[i];
    }

    /// <summary>
    /// target[N] += source[N]. Backward of y = a + b: dL/da = dL/dy and dL/db = dL/dy, so each operand's
    /// gradient buffer accumulates the output gradient.
    /// </summary>
    public static void Accumulate(float* target, float* source, long count) =>
        KernelSupport.ForElements(count, (s, e) => KernelSupport.AddInPlace(target + s, source + s, e - s));

    public static void AccumulateScalar(float* target, float* source, long count)
    {
        for (long i = 0; i < count; i++) target[i] += source[i];
    }
}
