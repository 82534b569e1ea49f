// Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus), as Hugging Face's warpers.
using Rlhf.Tensors;

namespace Rlhf.Models.Generation;

public static class Sampling
{
    /// <summary>Index of the largest logit (the first one on ties, as torch.argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>In place: logits ← log softmax(logits / temperature) (the SIMD log-sum-exp of the LM-head kernels).</summary>
    public static unsafe void LogSoftmax(Span<float> logits, float temperature = 1f)
    {
        fixed (float* row = logits)
        {
            if (temperature != 1f) Rlhf.Tensors.Kernels.ScaleKernels.Forward(row, row, 1f / temperature, logits.Length);
            float lse = Rlhf.Tensors.Kernels.LmHeadKernels.LogSumExp(row, logits.Length);
            for (int i = 0; i < logits.Length; i++) row[i] -= lse;
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

    /// <summary>Draws a token from the allowed set with probabilities ∝ exp(logProbs).</summary>
    public static int Draw(ReadOnlySpan<float> logProbs, bool[] allowed, Rng rng)
    {
        double total = 0;
        for (int i = 0; i < logProbs.Length; i++) if (allowed[i]) total += Math.Exp(logProbs[i]);
        double target = rng.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < logProbs.Length; i++)
        {
            if (!allowed[i]) continue;
            last = i;
            cumulative += Math.Exp(logProbs[i]);
            if (cumulative > target) return i;
        }
        return last;
    }
}
