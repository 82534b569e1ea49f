// Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus), as Hugging Face's warpers.
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;

namespace Rlhf.Models.Generation;

public static class Sampling
{
    /// <summary>Index of the largest logit (the first one on ties, as torch.argmax; NaNs are skipped).</summary>
    public static unsafe int ArgMax(ReadOnlySpan<float> logits)
    {
        if (!Vector512.IsHardwareAccelerated || logits.Length < 32 || float.IsNaN(logits[0])) return ArgMaxScalar(logits);
        fixed (float* row = logits)
        {
            // The largest value first (x86 max keeps the accumulator when the new value is NaN), then its first index.
            var best = Vector512.Create(float.NegativeInfinity);
            int i = 0, n = logits.Length;
            for (; i <= n - 16; i += 16) best = Avx512F.Max(Vector512.Load(row + i), best);
            float max = float.NegativeInfinity;
            for (int lane = 0; lane < 16; lane++) max = MathF.Max(max, best.GetElement(lane));
            for (; i < n; i++) if (row[i] > max) max = row[i];
            var target = Vector512.Create(max);
            for (i = 0; i <= n - 16; i += 16)
            {
                ulong hits = Vector512.Equals(Vector512.Load(row + i), target).ExtractMostSignificantBits();
                if (hits != 0) return i + BitOperations.TrailingZeroCount(hits);
            }
            for (; i < n; i++) if (row[i] == max) return i;
            return ArgMaxScalar(logits); // max is −∞ only when every value is −∞ or NaN
        }
    }

    /// <summary>Scalar reference of <see cref="ArgMax"/>.</summary>
    public static int ArgMaxScalar(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>log Σ exp(logits) (the SIMD log-sum-exp of the LM-head kernels).</summary>
    public static unsafe float LogSumExp(ReadOnlySpan<float> logits)
    {
        fixed (float* row = logits) return Rlhf.Tensors.Kernels.LmHeadKernels.LogSumExp(row, logits.Length);
    }

    /// <summary>In place: logits ← log softmax(logits / temperature).</summary>
    public static unsafe void LogSoftmax(Span<float> logits, float temperature = 1f)
    {
        fixed (float* row = logits)
        {
            if (temperature != 1f) Rlhf.Tensors.Kernels.ScaleKernels.Forward(row, row, 1f / temperature, logits.Length);
            float lse = Rlhf.Tensors.Kernels.LmHeadKernels.LogSumExp(row, logits.Length);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (var shift = Vector512.Create(lse); i <= logits.Length - 16; i += 16) (Vector512.Load(row + i) - shift).Store(row + i);
            for (; i < logits.Length; i++) row[i] -= lse;
        }
    }

    /// <summary>
    /// Which tokens may be drawn: top-k keeps logits ≥ the k-th largest (TopKLogitsWarper); then top-p, over the
    /// survivors' renormalised probabilities sorted descending, keeps tokens until their mass reaches p,
    /// always at least one (TopPLogitsWarper). logProbs must be log-normalised.
    /// </summary>
    public static bool[] Allowed(ReadOnlySpan<float> logProbs, int topK, float topP)
    {
        int n = logProbs.Length;
        var keep = new bool[n];
        keep.AsSpan().Fill(true);
        if ((topK <= 0 || topK >= n) && topP >= 1f) return keep; // nothing filtered: skip the sort
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var values = logProbs.ToArray();
        // Descending by log-prob, ties by id: deterministic.
        Array.Sort(order, (a, b) => values[b] != values[a] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        if (topK > 0 && topK < n)
        {
            float threshold = values[order[topK - 1]];
            for (int i = 0; i < n; i++) keep[i] = values[i] >= threshold;
        }
        if (topP < 1f)
        {
            double total = 0;
            foreach (int i in order) if (keep[i]) total += Math.Exp(values[i]);
            double cumulative = 0;
            bool reached = false;
            foreach (int i in order)
            {
                if (!keep[i]) continue;
                if (reached) { keep[i] = false; continue; }
                cumulative += Math.Exp(values[i]) / total;
                if (cumulative >= topP) reached = true;
            }
        }
        return keep;
    }

    [ThreadStatic] private static float[]? probabilityScratch;

    /// <summary>Draws a token from the allowed set with probabilities ∝ exp(logProbs) (exp once per token, summed in double).</summary>
    public static unsafe int Draw(ReadOnlySpan<float> logProbs, bool[] allowed, Rng rng)
    {
        int n = logProbs.Length;
        if (probabilityScratch is null || probabilityScratch.Length < n) probabilityScratch = GC.AllocateUninitializedArray<float>(n, pinned: true);
        fixed (float* source = logProbs, p = probabilityScratch)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i <= n - 16; i += 16) VectorMath.Exp(Vector512.Load(source + i)).Store(p + i);
            for (; i < n; i++) p[i] = MathF.Exp(source[i]);
        }
        var probabilities = probabilityScratch.AsSpan(0, n);
        double total = 0;
        for (int i = 0; i < n; i++) if (allowed[i]) total += probabilities[i];
        double target = rng.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < n; i++)
        {
            if (!allowed[i]) continue;
            last = i;
            cumulative += probabilities[i];
            if (cumulative > target) return i;
        }
        return last;
    }
}
