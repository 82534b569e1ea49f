// Token embeddings, alone (rotary models: Llama, Qwen2) or plus learned positions (GPT-2 wte + wpe): a row gather on
// the forward pass and a deterministic scatter-add into the table(s) on the backward pass.
namespace Rlhf.Tensors.Kernels;

internal static unsafe class EmbeddingKernels
{
    /// <summary>
    /// output[N, C][n, :] = tokenTable[V, C][tokenIds[n], :] + positionTable[P, C][positionIds[n], :],
    /// with N = count (e.g. B·T flattened) and C = channels. Parallel over rows.
    /// </summary>
    public static void Forward(float* output, int* tokenIds, int* positionIds, float* tokenTable, float* positionTable,
        int count, int channels)
    {
        if (count <= 0 || channels <= 0) return;
        Parallelism.For(count, Math.Max(1, 16384 / channels), (start, end) =>
        {
            for (int n = start; n < end; n++)
                KernelSupport.Add(output + (long)n * channels, tokenTable + (long)tokenIds[n] * channels,
                    positionTable + (long)positionIds[n] * channels, channels);
        });
    }

    public static void ForwardScalar(float* output, int* tokenIds, int* positionIds, float* tokenTable, float* positionTable,
        int count, int channels)
    {
        for (int n = 0; n < count; n++)
        {
            float* o = output + (long)n * channels;
            float* t = tokenTable + (long)tokenIds[n] * channels;
            float* p = positionTable + (long)positionIds[n] * channels;
            for (int c = 0; c < channels; c++) o[c] = t[c] + p[c];
        }
    }

    /// <summary>
    /// tokenTableGrad[V, C][tokenIds[n], :] += outputGrad[N, C][n, :] and likewise for positionTableGrad.
    /// Derivation: output[n, c] depends on tokenTable[id, c] with coefficient 1 exactly when tokenIds[n] = id, so
    /// dL/dtokenTable[id, c] = Σ_{n: tokenIds[n]=id} dL/doutput[n, c] (same for positions). Rows with the same id
    /// collide, so the work is split over channels (each thread owns a column range and walks the rows in order):
    /// deterministic and race-free.
    /// </summary>
    public static void Backward(float* tokenTableGrad, float* positionTableGrad, float* outputGrad, int* tokenIds, int* positionIds,
        int count, int channels)
    {
        if (count <= 0 || channels <= 0) return;
        int minChannels = (long)count * channels < 32768 ? channels : 32;
        Parallelism.For(channels, minChannels, (c0, c1) =>
        {
            int width = c1 - c0;
            for (int n = 0; n < count; n++)
            {
                float* g = outputGrad + (long)n * channels + c0;
                KernelSupport.AddInPlace(tokenTableGrad + (long)tokenIds[n] * channels + c0, g, width);
                KernelSupport.AddInPlace(positionTableGrad + (long)positionIds[n] * channels + c0, g, width);
            }
        });
    }

    public static void BackwardScalar(float* tokenTableGrad, float* positionTableGrad, float* outputGrad, int* tokenIds, int* positionIds,
        int count, int channels)
    {
        for (int n = 0; n < count; n++)
        {
            float* g = outputGrad + (long)n * channels;
            float* t = tokenTableGrad + (long)tokenIds[n] * channels;
            float* p = positionTableGrad + (long)positionIds[n] * channels;
            for (int c = 0; c < channels; c++)
            {
                t[c] += g[c];
                p[c] += g[c];
            }
        }
    }

    /// <summary>output[N, C][n, :] = tokenTable[V, C][tokenIds[n], :] (no position table). Parallel over rows.</summary>
    public static void ForwardTokens(float* output, int* tokenIds, float* tokenTable, int count, int channels)
    {
        if (count <= 0 || channels <= 0) return;
        long rowBytes = channels * 4L;
        Parallelism.For(count, Math.Max(1, 32768 / channels), (start, end) =>
        {
            for (int n = start; n < end; n++)
                Buffer.MemoryCopy(tokenTable + (long)tokenIds[n] * channels, output + (long)n * channels, rowBytes, rowBytes);
        });
    }

    public static void ForwardTokensScalar(float* output, int* tokenIds, float* tokenTable, int count, int channels)
    {
        for (int n = 0; n < count; n++)
            for (int c = 0; c < channels; c++) output[(long)n * channels + c] = tokenTable[(long)tokenIds[n] * channels + c];
    }

    /// <summary>
    /// tokenTableGrad[V, C][tokenIds[n], :] += outputGrad[N, C][n, :] (the derivation of <see cref="Backward"/> without the
    /// position table); split over channels, rows in order: deterministic and race-free.
    /// </summary>
    public static void BackwardTokens(float* tokenTableGrad, float* outputGrad, int* tokenIds, int count, int channels)
    {
        if (count <= 0 || channels <= 0) return;
        int minChannels = (long)count * channels < 32768 ? channels : 32;
        Parallelism.For(channels, minChannels, (c0, c1) =>
        {
            int width = c1 - c0;
            for (int n = 0; n < count; n++)
                KernelSupport.AddInPlace(tokenTableGrad + (long)tokenIds[n] * channels + c0, outputGrad + (long)n * channels + c0, width);
        });
    }

    public static void BackwardTokensScalar(float* tokenTableGrad, float* outputGrad, int* tokenIds, int count, int channels)
    {
        for (int n = 0; n < count; n++)
            for (int c = 0; c < channels; c++) tokenTableGrad[(long)tokenIds[n] * channels + c] += outputGrad[(long)n * channels + c];
    }
}
