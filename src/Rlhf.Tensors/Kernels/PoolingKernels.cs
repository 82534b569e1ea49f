// Weighted pooling of token states into one vector per sequence (reward heads: last token, first token, mean).
namespace Rlhf.Tensors.Kernels;

internal static unsafe class PoolingKernels
{
    /// <summary>output[b, :] = Σ_t weights[b, t] · input[b, t, :]  (input [B, T, C], weights [B, T], output [B, C]).</summary>
    public static void Forward(float* output, float* input, float* weights, int batch, int tokens, int channels)
    {
        for (int b = 0; b < batch; b++)
        {
            float* target = output + (long)b * channels;
            new Span<float>(target, channels).Clear();
            for (int t = 0; t < tokens; t++)
            {
                float w = weights[(long)b * tokens + t];
                if (w == 0) continue;
                float* row = input + ((long)b * tokens + t) * channels;
                for (int c = 0; c < channels; c++) target[c] += w * row[c];
            }
        }
    }

    /// <summary>∂L/∂input[b, t, :] += weights[b, t] · ∂L/∂output[b, :] (the pooling is linear in its input).</summary>
    public static void Backward(float* inputGrad, float* outputGrad, float* weights, int batch, int tokens, int channels)
    {
        for (int b = 0; b < batch; b++)
        {
            float* source = outputGrad + (long)b * channels;
            for (int t = 0; t < tokens; t++)
            {
                float w = weights[(long)b * tokens + t];
                if (w == 0) continue;
                float* row = inputGrad + ((long)b * tokens + t) * channels;
                for (int c = 0; c < channels; c++) row[c] += w * source[c];
            }
        }
    }
}
