// Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus), as Hugging Face's warpers.
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;

namespace Rlhf.Models.Generation;

internal static class Sampling
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
        fixed (float* row = logits) return Rlhf.Tensors.Kernels.LinearSoftmaxKernels.LogSumExp(row, logits.Length);
    }

    /// <summary>In place: logits ← log softmax(logits / temperature).</summary>
    public static unsafe void LogSoftmax(Span<float> logits, float temperature = 1f)
    {
        fixed (float* row = logits)
        {
            if (temperature != 1f) Rlhf.Tensors.Kernels.ScaleKernels.Forward(row, row, 1f / temperature, logits.Length);
            float lse = Rlhf.Tensors.Kernels.LinearSoftmaxKernels.LogSumExp(row, logits.Length);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (var shift = Vector512.Create(lse); i <= logits.Length - 16; i += 16) (Vector512.Load(row + i) - shift).Store(row + i);
            for (; i < logits.Length; i++) row[i] -= lse;
        }
    }

    /// <summary>
    /// Which tokens may be drawn: top-k keeps logits ≥ the k-th largest (TopKLogitsWarper); then top-p, over the
    /// survivors' renormalised probabilities sorted descending (ties by id), keeps tokens until their mass reaches p,
    /// always at least one (TopPLogitsWarper). logProbs must be log-normalised.
    /// </summary>
    public static bool[] Allowed(ReadOnlySpan<float> logProbs, int topK, float topP)
    {
        int n = logProbs.Length;
        var keep = new bool[n];
        keep.AsSpan().Fill(true);
        if ((topK <= 0 || topK >= n) && topP >= 1f) return keep; // nothing filtered
        var values = logProbs.ToArray();
        if (topK > 0 && topK < n)
        {
            float threshold = KthLargest(values, topK);
            for (int i = 0; i < n; i++) keep[i] = values[i] >= threshold;
        }
        if (topP < 1f)
        {
            double total = 0;
            float max = float.NegativeInfinity;
            for (int i = 0; i < n; i++)
                if (keep[i])
                {
                    total += Math.Exp(values[i]);
                    max = MathF.Max(max, values[i]);
                }
            // Only tokens within some distance of the best can be reached before the mass hits p: widen the window
            // until the tokens inside it hold at least p, then sort just those (everything outside is cut).
            float cutoff = max;
            double inside;
            do
            {
                cutoff = cutoff - 4f;
                inside = 0;
                for (int i = 0; i < n; i++) if (keep[i] && values[i] >= cutoff) inside += Math.Exp(values[i]);
            }
            while (inside / total < topP && cutoff > float.MinValue / 2 && inside < total);
            var order = new List<long>();
            for (int i = 0; i < n; i++)
            {
                if (!keep[i]) continue;
                if (values[i] >= cutoff) order.Add(((long)DescendingKey(values[i]) << 32) | (uint)i);
                else keep[i] = false;
            }
            order.Sort(); // descending by value, then ascending by id
            double cumulative = 0;
            bool reached = false;
            foreach (long entry in order)
            {
                int i = (int)(entry & 0xFFFFFFFF);
                if (reached) { keep[i] = false; continue; }
                cumulative += Math.Exp(values[i]) / total;
                if (cumulative >= topP) reached = true;
            }
        }
        return keep;
    }

    /// <summary>A uint that sorts ascending as the float sorts descending (IEEE order, −0 = +0 aside).</summary>
    private static uint DescendingKey(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint ascending = (bits & 0x80000000) != 0 ? ~bits : bits | 0x80000000;
        return ~ascending;
    }

    /// <summary>The k-th largest value (1-based) by quickselect on a copy; the input is left as it was.</summary>
    private static float KthLargest(float[] values, int k)
    {
        var a = (float[])values.Clone();
        int left = 0, right = a.Length - 1, target = k - 1; // index in descending order
        while (left < right)
        {
            // Median of three as the pivot; partition so that larger values come first.
            int middle = left + (right - left) / 2;
            float pivot = Median(a[left], a[middle], a[right]);
            int i = left, j = right;
            while (i <= j)
            {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }
            if (target <= j) right = j;
            else if (target >= i) left = i;
            else return a[target];
        }
        return a[target];
    }

    private static float Median(float a, float b, float c) => MathF.Max(MathF.Min(a, b), MathF.Min(MathF.Max(a, b), c));

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
