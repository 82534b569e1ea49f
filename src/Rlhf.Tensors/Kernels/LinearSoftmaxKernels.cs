// Fused linear map + log-softmax + target gather (and its backward), chunked over rows so the full
// [rows, vocab] logits never exist at once — for a 50k vocabulary this is the largest memory saving.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

/// <summary>
/// A linear map to V classes (nn.Linear layout [V, C]): <c>logits[n, v] = hidden[n, :] · embedding[v, :]</c>, reduced at once to
/// <c>logp[n] = logits[n, target[n]] − logsumexp(logits[n, :])</c>. Rows whose target is negative
/// are skipped (logp 0, no gradient); the rest are gathered into dense chunks of <see cref="ChunkRows"/>.
/// </summary>
internal static unsafe class LinearSoftmaxKernels
{
    /// <summary>
    /// Rows per chunk: about 32M floats of logits (128 MiB) at a time — for a 50,257-token vocabulary, 667 of 1,024 rows.
    /// Fewer, larger chunks matter for the backward: each chunk reads and writes the whole [V, C] embedding gradient.
    /// </summary>
    public static int ChunkRows(int rows, int vocab) => Math.Max(1, Math.Min(rows, (1 << 25) / Math.Max(1, vocab)));

    /// <summary>Scratch floats the kernels need: one chunk of logits plus gathered hidden rows and their gradient.</summary>
    public static long ScratchLength(int rows, int channels, int vocab)
    {
        long chunk = ChunkRows(rows, vocab);
        return chunk * vocab + 2 * chunk * channels;
    }

    /// <summary>
    /// hidden [N, C], embedding [V, C], targets [N] → tokenLogProbs [N], logSumExp [N].
    /// Eager-gradient mode (tokenWeights non-null): the loss is known to be L = −Σ w_n·logp_n, so its
    /// gradient is added here to hiddenGrad [N, C] and embeddingGrad [V, C] without a second pass:
    /// ∂L/∂logits[n, v] = w_n·(softmax[n, v] − 1[v = target_n]).
    /// </summary>
    public static void Forward(float* tokenLogProbs, float* logSumExp, float* hidden, float* embedding, int* targets,
        int rows, int channels, int vocab, float* scratch,
        float* tokenWeights = null, float* hiddenGrad = null, float* embeddingGrad = null, float* entropy = null)
    {
        bool eager = tokenWeights != null;
        for (int n = 0; n < rows; n++) { tokenLogProbs[n] = 0; logSumExp[n] = 0; }
        if (entropy != null) for (int n = 0; n < rows; n++) entropy[n] = 0;
        ForEachChunk(rows, channels, vocab, targets, scratch, hidden, embedding, (chunk, count, logits, gathered, gatheredGrad) =>
        {
            Parallelism.For(count, 8, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    int n = chunk[r];
                    float* row = logits + (long)r * vocab;
                    float lse = LogSumExp(row, vocab);
                    logSumExp[n] = lse;
                    tokenLogProbs[n] = row[targets[n]] - lse;
                    if (entropy != null) entropy[n] = Entropy(row, vocab, lse);
                    if (eager) SoftmaxMinusOneHot(row, vocab, lse, tokenWeights[n], targets[n]);
                }
            });
            if (eager) BackwardGemms(chunk, count, logits, gathered, gatheredGrad, hiddenGrad, embedding, embeddingGrad, channels, vocab);
        });
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> given g[n] = ∂L/∂logp[n]: recomputes each chunk's logits and uses
    /// ∂logp_n/∂logits[n, v] = 1[v = target_n] − softmax[n, v], i.e. ∂L/∂logits = −g_n·(softmax − onehot).
    /// Adds into hiddenGrad [N, C] and embeddingGrad [V, C].
    /// </summary>
    public static void Backward(float* hiddenGrad, float* embeddingGrad, float* tokenLogProbGrad, float* hidden,
        float* embedding, int* targets, float* logSumExp, int rows, int channels, int vocab, float* scratch)
    {
        ForEachChunk(rows, channels, vocab, targets, scratch, hidden, embedding, (chunk, count, logits, gathered, gatheredGrad) =>
        {
            Parallelism.For(count, 8, (start, end) =>
            {
                for (int r = start; r < end; r++)
                {
                    int n = chunk[r];
                    SoftmaxMinusOneHot(logits + (long)r * vocab, vocab, logSumExp[n], -tokenLogProbGrad[n], targets[n]);
                }
            });
            BackwardGemms(chunk, count, logits, gathered, gatheredGrad, hiddenGrad, embedding, embeddingGrad, channels, vocab);
        });
    }

    /// <summary>hiddenGrad[n, :] += g[n]·direction[n, :] for the rows with a target. Parallel over rows.</summary>
    public static void ScaleRowsInto(float* hiddenGrad, float* direction, float* g, int* targets, int rows, int channels) =>
        Parallelism.For(rows, 16, (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                float scale = g[n];
                if (targets[n] < 0 || scale == 0f) continue;
                float* target = hiddenGrad + (long)n * channels, source = direction + (long)n * channels;
                int c = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; c <= channels - 16; c += 16)
                        Vector512.FusedMultiplyAdd(Vector512.Create(scale), Vector512.Load(source + c), Vector512.Load(target + c)).Store(target + c);
                for (; c < channels; c++) target[c] = MathF.FusedMultiplyAdd(scale, source[c], target[c]);
            }
        });

    private delegate void ChunkBody(int[] chunkRows, int count, float* logits, float* gathered, float* gatheredGrad);

    /// <summary>Gathers rows with a target into chunks, computes their logits [count, V], and calls the body.</summary>
    private static void ForEachChunk(int rows, int channels, int vocab, int* targets, float* scratch, float* hidden, float* embedding, ChunkBody body)
    {
        int chunkRows = ChunkRows(rows, vocab);
        float* logits = scratch;
        float* gathered = scratch + (long)chunkRows * vocab;
        float* gatheredGrad = gathered + (long)chunkRows * channels;
        var chunk = new int[chunkRows];
        int n = 0;
        while (n < rows)
        {
            int count = 0;
            for (; n < rows && count < chunkRows; n++)
            {
                if (targets[n] < 0) continue;
                if ((uint)targets[n] >= (uint)vocab)
                    throw new ArgumentOutOfRangeException(nameof(targets), $"Target id {targets[n]} at row {n} is outside the vocabulary of {vocab}.");
                Buffer.MemoryCopy(hidden + (long)n * channels, gathered + (long)count * channels, channels * 4L, channels * 4L);
                chunk[count++] = n;
            }
            if (count == 0) break;
            Gemm.Sgemm(false, true, count, vocab, channels, 1f, gathered, channels, embedding, channels, 0f, logits, vocab);
            body(chunk, count, logits, gathered, gatheredGrad);
        }
    }

    /// <summary>dHidden[chunk] += dLogits · E ; dE += dLogitsᵀ · hidden[chunk].</summary>
    private static void BackwardGemms(int[] chunk, int count, float* dLogits, float* gathered, float* gatheredGrad,
        float* hiddenGrad, float* embedding, float* embeddingGrad, int channels, int vocab)
    {
        if (hiddenGrad != null)
        {
            Gemm.Sgemm(false, false, count, channels, vocab, 1f, dLogits, vocab, embedding, channels, 0f, gatheredGrad, channels);
            for (int r = 0; r < count; r++)
            {
                float* source = gatheredGrad + (long)r * channels;
                float* target = hiddenGrad + (long)chunk[r] * channels;
                for (int c = 0; c < channels; c++) target[c] += source[c];
            }
        }
        if (embeddingGrad != null)
            Gemm.Sgemm(true, false, vocab, channels, count, 1f, dLogits, vocab, gathered, channels, 1f, embeddingGrad, channels);
    }

    /// <summary>log Σ exp(row) computed stably as max + log Σ exp(row − max).</summary>
    public static float LogSumExp(float* row, int length)
    {
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count) return LogSumExp512(row, length);
        if (Vector256.IsHardwareAccelerated && length >= Vector256<float>.Count) return LogSumExp256(row, length);
        return LogSumExpScalar(row, length);
    }

    private static float LogSumExp512(float* row, int length)
    {
        int width = Vector512<float>.Count, i = 0;
        var maxVector = Vector512.Create(float.NegativeInfinity);
        for (; i <= length - width; i += width) maxVector = Vector512.Max(maxVector, Vector512.Load(row + i));
        float max = MaxOf(maxVector.GetLower(), maxVector.GetUpper());
        for (; i < length; i++) max = MathF.Max(max, row[i]);
        var maxBroadcast = Vector512.Create(max);
        var sumVector = Vector512<float>.Zero;
        for (i = 0; i <= length - width; i += width) sumVector += VectorMath.Exp(Vector512.Load(row + i) - maxBroadcast);
        double sum = Vector512.Sum(sumVector);
        for (; i < length; i++) sum += MathF.Exp(row[i] - max);
        return max + (float)Math.Log(sum);
    }

    private static float LogSumExp256(float* row, int length)
    {
        int width = Vector256<float>.Count, i = 0;
        var maxVector = Vector256.Create(float.NegativeInfinity);
        for (; i <= length - width; i += width) maxVector = Vector256.Max(maxVector, Vector256.Load(row + i));
        float max = MaxOf(maxVector, maxVector);
        for (; i < length; i++) max = MathF.Max(max, row[i]);
        var maxBroadcast = Vector256.Create(max);
        var sumVector = Vector256<float>.Zero;
        for (i = 0; i <= length - width; i += width) sumVector += VectorMath.Exp(Vector256.Load(row + i) - maxBroadcast);
        double sum = Vector256.Sum(sumVector);
        for (; i < length; i++) sum += MathF.Exp(row[i] - max);
        return max + (float)Math.Log(sum);
    }

    private static float MaxOf(Vector256<float> a, Vector256<float> b)
    {
        var m = Vector256.Max(a, b);
        float max = float.NegativeInfinity;
        for (int i = 0; i < Vector256<float>.Count; i++) max = MathF.Max(max, m.GetElement(i));
        return max;
    }

    public static float LogSumExpScalar(float* row, int length)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < length; i++) max = MathF.Max(max, row[i]);
        double sum = 0;
        for (int i = 0; i < length; i++) sum += Math.Exp(row[i] - max);
        return max + (float)Math.Log(sum);
    }

    /// <summary>H = −Σ p·log p = lse − Σ_v p_v·logit_v, with p = exp(logit − lse).</summary>
    public static float Entropy(float* row, int length, float lse)
    {
        int i = 0;
        double weighted = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var lseVector = Vector512.Create(lse);
            var sum = Vector512<float>.Zero;
            for (; i <= length - 16; i += 16)
            {
                var logits = Vector512.Load(row + i);
                sum += VectorMath.Exp(logits - lseVector) * logits;
            }
            weighted = Vector512.Sum(sum);
        }
        for (; i < length; i++) weighted += Math.Exp(row[i] - lse) * row[i];
        return (float)(lse - weighted);
    }

    /// <summary>row ← scale·(exp(row − lse) − 1[v = target]).</summary>
    public static void SoftmaxMinusOneHot(float* row, int length, float lse, float scale, int target)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var lseVector = Vector512.Create(lse);
            var scaleVector = Vector512.Create(scale);
            for (; i <= length - Vector512<float>.Count; i += Vector512<float>.Count)
                Vector512.Store(VectorMath.Exp(Vector512.Load(row + i) - lseVector) * scaleVector, row + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var lseVector = Vector256.Create(lse);
            var scaleVector = Vector256.Create(scale);
            for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
                Vector256.Store(VectorMath.Exp(Vector256.Load(row + i) - lseVector) * scaleVector, row + i);
        }
        for (; i < length; i++) row[i] = MathF.Exp(row[i] - lse) * scale;
        row[target] -= scale;
    }

    public static void SoftmaxMinusOneHotScalar(float* row, int length, float lse, float scale, int target)
    {
        for (int i = 0; i < length; i++) row[i] = MathF.Exp(row[i] - lse) * scale;
        row[target] -= scale;
    }
}
