// The clipped surrogate losses of GRPO (per token) and RLOO (per sequence), with their gradients with respect to the
// policy's per-token log-probs (TRL GRPOTrainer._compute_loss / RLOOTrainer._compute_loss):
//   GRPO: ρ = exp(log π − log π_old), ℓ = −min(ρ·A, clip(ρ, 1−ε, 1+ε_high)·A) + β·(exp(Δ) − Δ − 1), Δ = log π_ref − log π,
//         aggregated by the loss type; RLOO: ρ = exp(Σₜ log π − Σₜ log π_old) per sequence, ℓ as above without the KL
//         term (RLOO puts β·KL in the reward), mean over sequences.
namespace Rlhf.Training.Grpo;

/// <summary>One completion of a micro-batch: per-token log-probs under the current policy (and the sampling policy and
/// reference when known), its advantage, and whether it takes part in the loss.</summary>
internal sealed record LossSequence(float[] LogProbs, float[]? OldLogProbs, float[]? ReferenceLogProbs, float[] Entropy, float Advantage, bool Included);

/// <summary>The loss of a micro-batch (already divided for gradient accumulation), ∂loss/∂log π per token, metrics.</summary>
internal sealed record LossResult(double Loss, float[][] Gradients, IReadOnlyDictionary<string, double> Metrics);

internal static class GrpoLoss
{
    /// <param name="generationTokens">Completion tokens that take part in the loss across the whole generation batch
    /// (DAPO's normaliser).</param>
    /// <param name="accumulationSteps">Micro-batches per update (the other loss types divide by it).</param>
    public static LossResult Compute(IReadOnlyList<LossSequence> batch, GrpoConfig config, long generationTokens, int accumulationSteps)
    {
        return config.Estimator == GroupEstimator.LeaveOneOut
            ? SequenceLevel(batch, config, accumulationSteps)
            : TokenLevel(batch, config, generationTokens, accumulationSteps);
    }

    private static LossResult TokenLevel(IReadOnlyList<LossSequence> batch, GrpoConfig config, long generationTokens, int accumulationSteps)
    {
        double low = 1 - config.Epsilon, high = 1 + config.ResolvedEpsilonHigh, beta = config.Beta;
        long microTokens = batch.Where(s => s.Included).Sum(s => (long)s.LogProbs.Length);
        var stats = new Stats();
        var gradients = new float[batch.Count][];
        double loss = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b];
            int length = s.LogProbs.Length;
            gradients[b] = new float[length];
            if (!s.Included || length == 0) continue;
            double weight = config.LossType switch
            {
                GrpoLossType.Grpo => 1.0 / ((double)batch.Count * length * accumulationSteps),
                GrpoLossType.Bnpo => 1.0 / ((double)Math.Max(1, microTokens) * accumulationSteps),
                GrpoLossType.DrGrpo => 1.0 / ((double)batch.Count * config.MaxCompletionLength * accumulationSteps),
                _ => 1.0 / Math.Max(1, generationTokens),
            };
            double a = s.Advantage;
            for (int t = 0; t < length; t++)
            {
                double logp = s.LogProbs[t];
                double ratio = s.OldLogProbs is null ? 1 : Math.Exp(logp - s.OldLogProbs[t]);
                double clipped = Math.Clamp(ratio, low, high);
                // min(ρA, clip(ρ)A): the gradient flows only through the unclipped branch (both agree inside the band).
                bool unclippedBranch = ratio * a <= clipped * a;
                double tokenLoss = -Math.Min(ratio * a, clipped * a);
                double dLoss = unclippedBranch ? -a * ratio : 0;
                if (beta != 0)
                {
                    double delta = s.ReferenceLogProbs![t] - logp;
                    double kl = Math.Exp(delta) - delta - 1;       // k3 estimator, ≥ 0
                    tokenLoss += beta * kl;
                    dLoss += beta * (1 - Math.Exp(delta));
                    stats.Kl += kl;
                }
                loss += weight * tokenLoss;
                gradients[b][t] = (float)(weight * dLoss);
                stats.Tokens++;
                stats.Entropy += s.Entropy.Length > t ? s.Entropy[t] : 0;
                if (ratio < low && a < 0) stats.LowClipped++;
                if (ratio > high && a > 0) stats.HighClipped++;
            }
        }
        return new LossResult(loss, gradients, stats.Metrics(beta != 0));
    }

    private static LossResult SequenceLevel(IReadOnlyList<LossSequence> batch, GrpoConfig config, int accumulationSteps)
    {
        double low = 1 - config.Epsilon, high = 1 + config.ResolvedEpsilonHigh;
        var stats = new Stats();
        var gradients = new float[batch.Count][];
        double loss = 0, weight = 1.0 / ((double)batch.Count * accumulationSteps);
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b];
            int length = s.LogProbs.Length;
            gradients[b] = new float[length];
            double logRatio = 0;
            if (s.Included && s.OldLogProbs is not null)
                for (int t = 0; t < length; t++) logRatio += s.LogProbs[t] - s.OldLogProbs[t];
            double ratio = Math.Exp(logRatio), clipped = Math.Clamp(ratio, low, high), a = s.Advantage;
            loss += weight * -Math.Min(ratio * a, clipped * a);
            double dLoss = ratio * a <= clipped * a ? -a * ratio : 0;
            if (s.Included)
                for (int t = 0; t < length; t++)
                {
                    gradients[b][t] = (float)(weight * dLoss);
                    stats.Tokens++;
                    stats.Entropy += s.Entropy.Length > t ? s.Entropy[t] : 0;
                }
            // RLOO counts clipping per sequence.
            stats.Sequences++;
            if (ratio < low && a < 0) stats.LowClipped++;
            if (ratio > high && a > 0) stats.HighClipped++;
        }
        return new LossResult(loss, gradients, stats.Metrics(false, perSequence: true));
    }

    private sealed class Stats
    {
        public long Tokens, Sequences, LowClipped, HighClipped;
        public double Kl, Entropy;

        public Dictionary<string, double> Metrics(bool withKl, bool perSequence = false)
        {
            double units = Math.Max(1, perSequence ? Sequences : Tokens);
            var metrics = new Dictionary<string, double>
            {
                ["entropy"] = Entropy / Math.Max(1, Tokens),
                ["clip_ratio/low_mean"] = LowClipped / units,
                ["clip_ratio/high_mean"] = HighClipped / units,
                ["clip_ratio/region_mean"] = (LowClipped + HighClipped) / units,
            };
            if (withKl) metrics["kl"] = Kl / Math.Max(1, Tokens);
            return metrics;
        }
    }
}
