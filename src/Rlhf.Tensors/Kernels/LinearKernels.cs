// Fully connected layers: Hugging Face's Conv1D layout (y = x·W + b, W stored [in, out]) and torch.nn.Linear's
// (y = x·Wᵀ + b, W stored [out, in]), both through the one GEMM entry point.
namespace Rlhf.Tensors.Kernels;

internal static unsafe class LinearKernels
{
    /// <summary>output [N, out] = input [N, in] · weight [in, out] + bias [out] (bias may be null).</summary>
    public static void Forward(float* output, float* input, float* weight, float* bias, int rows, int inputChannels, int outputChannels) =>
        Multiply(output, input, weight, bias, rows, inputChannels, outputChannels, weightOutIn: false);

    /// <summary>
    /// Given dY [N, out]: dX += dY·Wᵀ, dW += Xᵀ·dY, db += Σₙ dY[n, :]. Any gradient pointer may be null (not needed).
    /// </summary>
    public static void Backward(float* inputGrad, float* weightGrad, float* biasGrad, float* outputGrad, float* input, float* weight,
        int rows, int inputChannels, int outputChannels)
    {
        if (inputGrad != null)
            Gemm.Sgemm(false, true, rows, inputChannels, outputChannels, 1f, outputGrad, outputChannels, weight, outputChannels, 1f, inputGrad, inputChannels);
        if (weightGrad != null)
            Gemm.Sgemm(true, false, inputChannels, outputChannels, rows, 1f, input, inputChannels, outputGrad, outputChannels, 1f, weightGrad, outputChannels);
        if (biasGrad != null) ColumnSums(biasGrad, outputGrad, rows, outputChannels);
    }

    /// <summary>output [N, out] = input [N, in] · weightᵀ + bias [out], weight [out, in] (torch.nn.Linear); bias may be null.</summary>
    public static void ForwardOutIn(float* output, float* input, float* weight, float* bias, int rows, int inputChannels, int outputChannels) =>
        Multiply(output, input, weight, bias, rows, inputChannels, outputChannels, weightOutIn: true);

    private static void Multiply(float* output, float* input, float* weight, float* bias, int rows, int inputChannels, int outputChannels, bool weightOutIn)
    {
        float beta = 0f;
        if (bias != null)
        {
            long rowBytes = outputChannels * 4L;
            for (int n = 0; n < rows; n++) Buffer.MemoryCopy(bias, output + (long)n * outputChannels, rowBytes, rowBytes);
            beta = 1f;
        }
        Gemm.Sgemm(false, weightOutIn, rows, outputChannels, inputChannels, 1f, input, inputChannels, weight, weightOutIn ? inputChannels : outputChannels,
            beta, output, outputChannels);
    }

    /// <summary>
    /// Backward of <see cref="ForwardOutIn"/> given dY [N, out]: with Y = X·Wᵀ, dX += dY·W [N, in], dW += dYᵀ·X [out, in],
    /// db += Σₙ dY[n, :]. Any gradient pointer may be null (not needed).
    /// </summary>
    public static void BackwardOutIn(float* inputGrad, float* weightGrad, float* biasGrad, float* outputGrad, float* input, float* weight,
        int rows, int inputChannels, int outputChannels)
    {
        if (inputGrad != null)
            Gemm.Sgemm(false, false, rows, inputChannels, outputChannels, 1f, outputGrad, outputChannels, weight, inputChannels, 1f, inputGrad, inputChannels);
        if (weightGrad != null)
            Gemm.Sgemm(true, false, outputChannels, inputChannels, rows, 1f, outputGrad, outputChannels, input, inputChannels, 1f, weightGrad, inputChannels);
        if (biasGrad != null) ColumnSums(biasGrad, outputGrad, rows, outputChannels);
    }

    /// <summary>target[c] += Σₙ source[n, c], parallel over column blocks (deterministic).</summary>
    public static void ColumnSums(float* target, float* source, int rows, int columns)
    {
        const int block = 256;
        int blocks = (columns + block - 1) / block;
        Parallelism.For(blocks, 1, (start, end) =>
        {
            for (int b = start; b < end; b++)
            {
                int first = b * block, count = Math.Min(block, columns - first);
                for (int n = 0; n < rows; n++) ResidualKernels.Accumulate(target + first, source + (long)n * columns + first, count);
            }
        });
    }
}
