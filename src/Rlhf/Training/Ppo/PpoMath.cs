// PPO math over flattened [B, T] response tensors with a response mask (TRL PPOTrainer/PPOv2, InstructGPT): KL estimators,
// KL-penalised per-token rewards, GAE, masked whitening, clipped policy and value losses with gradients, entropy.
namespace Rlhf.Training.Ppo;

/// <summary>TRL's <c>kl_estimator</c>: k1 = log π − log π_ref; k3 = (r − 1) − log r with r = π_ref/π (Schulman 2020, always ≥ 0).</summary>
public enum KlEstimator
{
    /// <summary>k1: log π − log π_ref per token (TRL's default).</summary>
    K1,
    /// <summary>k3: (r − 1) − log r with r = π_ref/π, unbiased and never negative.</summary>
    K3,
}

/// <summary>Per-token rewards [B·T] (0 at masked positions) and TRL's objective/* metrics.</summary>
internal sealed record TokenRewardsResult(float[] Rewards, IReadOnlyDictionary<string, double> Metrics);

/// <summary>GAE advantages and returns (= advantages + values), [B·T], 0 at masked positions.</summary>
internal sealed record GaeResult(float[] Advantages, float[] Returns);

/// <summary>Masked-mean loss, its gradient per token (already divided by the valid-token count; 0 where masked), metrics.</summary>
internal sealed record PpoLossResult(double Loss, float[] Gradient, IReadOnlyDictionary<string, double> Metrics);

internal static class PpoMath
{
    /// <summary>Per-token KL estimate at valid positions, 0 where masked (masked log-probs, even −∞, are never read).</summary>
    public static float[] KlPerToken(ReadOnlySpan<float> logp, ReadOnlySpan<float> refLogp, ReadOnlySpan<bool> mask, KlEstimator estimator)
    {
        int count = mask.Length;
        LossMath.RequireSameLength(count, logp.Length, nameof(logp));
        LossMath.RequireSameLength(count, refLogp.Length, nameof(refLogp));
        var kl = new float[count];
        for (int i = 0; i < count; i++)
        {
            if (!mask[i]) continue;
            RequireFinite(logp[i], nameof(logp), i);
            RequireFinite(refLogp[i], nameof(refLogp), i);
            double logr = (double)refLogp[i] - logp[i];
            kl[i] = estimator switch
            {
                KlEstimator.K1 => (float)-logr,
                KlEstimator.K3 => (float)LossMath.ExpMinusOneMinusX(logr), // (eˡᵒᵍʳ − 1) − log r
                _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, $"Unknown KL estimator {estimator}."),
            };
        }
        return kl;
    }

    /// <summary>
    /// Seed 000: R(x, y) = r(x, y) − β·log(π/π_ref), spread per token as in TRL: reward_t = −β·kl_t at every valid token,
    /// plus the score on the last valid token of each row. Metrics (means over rows): objective/kl (Σ_t kl_t),
    /// objective/non_score_reward (Σ_t −β·kl_t), objective/rlhf_reward (score + non-score reward), objective/scores.
    /// </summary>
    public static TokenRewardsResult TokenRewards(ReadOnlySpan<float> scores, ReadOnlySpan<float> kl, ReadOnlySpan<bool> mask, double beta)
    {
        int batch = scores.Length;
        int steps = RowLength(batch, mask.Length);
        LossMath.RequireSameLength(mask.Length, kl.Length, nameof(kl));
        LossMath.RequireFinite(scores, nameof(scores));
        if (!double.IsFinite(beta) || beta < 0) throw new ArgumentOutOfRangeException(nameof(beta), beta, $"KL coefficient must be finite and ≥ 0, got {beta}.");
        var rewards = new float[mask.Length];
        double klSum = 0, nonScore = 0, scoreSum = 0;
        for (int b = 0; b < batch; b++)
        {
            int last = -1;
            for (int t = 0; t < steps; t++)
            {
                int i = b * steps + t;
                if (!mask[i]) continue;
                RequireFinite(kl[i], nameof(kl), i);
                double r = -beta * kl[i];
                rewards[i] = (float)r;
                klSum += kl[i];
                nonScore += r;
                last = i;
            }
            if (last < 0) throw new ArgumentException($"Row {b} has no valid response token to carry its score.", nameof(mask));
            rewards[last] = (float)((double)rewards[last] + scores[b]);
            scoreSum += scores[b];
        }
        var metrics = new Dictionary<string, double>
        {
            ["objective/kl"] = klSum / batch,
            ["objective/non_score_reward"] = nonScore / batch,
            ["objective/rlhf_reward"] = (nonScore + scoreSum) / batch,
            ["objective/scores"] = scoreSum / batch,
        };
        return new TokenRewardsResult(rewards, metrics);
    }

    /// <summary>
    /// GAE (Schulman et al. 2016) as TRL computes it, backwards over each row: δ_t = r_t + γ·V_{t+1} − V_t,
    /// A_t = δ_t + γλ·A_{t+1}, returns = A + V. Rewards and values at masked positions (after the last valid token) count
    /// as 0 and are never read; outputs there are 0.
    /// </summary>
    public static GaeResult Gae(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<bool> mask, int steps, double gamma, double lambda)
    {
        if (steps <= 0 || mask.Length % steps != 0)
            throw new ArgumentException($"Mask length {mask.Length} is not a whole number of rows of {steps} steps.", nameof(steps));
        LossMath.RequireSameLength(mask.Length, rewards.Length, nameof(rewards));
        LossMath.RequireSameLength(mask.Length, values.Length, nameof(values));
        if (!(gamma >= 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, $"gamma must be in [0, 1], got {gamma}.");
        if (!(lambda >= 0 && lambda <= 1)) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, $"lam must be in [0, 1], got {lambda}.");
        int batch = mask.Length / steps;
        var advantages = new float[mask.Length];
        var returns = new float[mask.Length];
        for (int b = 0; b < batch; b++)
        {
            double lastGae = 0, nextValue = 0;
            for (int t = steps - 1; t >= 0; t--)
            {
                int i = b * steps + t;
                double r = 0, v = 0;
                if (mask[i])
                {
                    RequireFinite(rewards[i], nameof(rewards), i);
                    RequireFinite(values[i], nameof(values), i);
                    r = rewards[i];
                    v = values[i];
                }
                double delta = r + gamma * nextValue - v;
                lastGae = delta + gamma * lambda * lastGae;
                if (mask[i])
                {
                    advantages[i] = (float)lastGae;
                    returns[i] = (float)(lastGae + v);
                }
                nextValue = v;
            }
        }
        return new GaeResult(advantages, returns);
    }

    /// <summary>
    /// TRL masked_whiten: (x − mean)/√(var + 1e-8) with mean and unbiased variance over valid tokens; the mean is added
    /// back when <paramref name="shiftMean"/> is false. Masked entries are copied unchanged. Needs ≥ 2 valid tokens.
    /// </summary>
    public static float[] Whiten(ReadOnlySpan<float> values, ReadOnlySpan<bool> mask, bool shiftMean = true)
    {
        LossMath.RequireSameLength(mask.Length, values.Length, nameof(values));
        int n = 0;
        double sum = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            if (!mask[i]) continue;
            RequireFinite(values[i], nameof(values), i);
            sum += values[i];
            n++;
        }
        if (n < 2) throw new ArgumentException($"Whitening needs at least 2 valid tokens for an unbiased variance, got {n}.", nameof(mask));
        double mean = sum / n, squares = 0;
        for (int i = 0; i < mask.Length; i++)
            if (mask[i]) squares += (values[i] - mean) * (values[i] - mean);
        double variance = squares / (n - 1);
        double scale = 1 / Math.Sqrt(variance + 1e-8);
        var result = values.ToArray();
        for (int i = 0; i < mask.Length; i++)
            if (mask[i]) result[i] = (float)((values[i] - mean) * scale + (shiftMean ? 0 : mean));
        return result;
    }

    /// <summary>
    /// PPO clipped surrogate (Schulman et al. 2017, TRL PPOv2): ρ = exp(logp − logp_old),
    /// loss = masked mean of max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)). The gradient flows through the unclipped branch only
    /// (the clipped branch wins only outside [1−ε, 1+ε], where clip has slope 0). Metrics: policy/approxkl_avg
    /// (0.5·mean (logp − logp_old)²), policy/clipfrac_avg (share of tokens where the clipped term is larger),
    /// val/ratio (mean ρ), val/ratio_var, loss/policy_avg — all over valid tokens.
    /// </summary>
    public static PpoLossResult ClippedPolicyLoss(ReadOnlySpan<float> newLogp, ReadOnlySpan<float> oldLogp, ReadOnlySpan<float> advantages,
        ReadOnlySpan<bool> mask, double clipRange)
    {
        int count = mask.Length;
        LossMath.RequireSameLength(count, newLogp.Length, nameof(newLogp));
        LossMath.RequireSameLength(count, oldLogp.Length, nameof(oldLogp));
        LossMath.RequireSameLength(count, advantages.Length, nameof(advantages));
        if (!double.IsFinite(clipRange) || clipRange <= 0) throw new ArgumentOutOfRangeException(nameof(clipRange), clipRange, $"cliprange must be > 0, got {clipRange}.");
        int n = CountValid(mask);
        var grad = new float[count];
        double loss = 0, approxKl = 0, clipped = 0, ratioSum = 0, ratioSquares = 0;
        for (int i = 0; i < count; i++)
        {
            if (!mask[i]) continue;
            RequireFinite(newLogp[i], nameof(newLogp), i);
            RequireFinite(oldLogp[i], nameof(oldLogp), i);
            RequireFinite(advantages[i], nameof(advantages), i);
            double diff = (double)newLogp[i] - oldLogp[i];
            double ratio = Math.Exp(diff);
            double a = advantages[i];
            double unclipped = -a * ratio;
            double clippedLoss = -a * Math.Clamp(ratio, 1 - clipRange, 1 + clipRange);
            loss += Math.Max(unclipped, clippedLoss);
            if (clippedLoss > unclipped) clipped++;
            else grad[i] = (float)(-a * ratio / n); // ∂(−A·e^{diff})/∂logp
            approxKl += 0.5 * diff * diff;
            ratioSum += ratio;
            ratioSquares += ratio * ratio;
        }
        double meanRatio = ratioSum / n;
        var metrics = new Dictionary<string, double>
        {
            ["loss/policy_avg"] = loss / n,
            ["policy/approxkl_avg"] = approxKl / n,
            ["policy/clipfrac_avg"] = clipped / n,
            ["val/ratio"] = meanRatio,
            ["val/ratio_var"] = n > 1 ? Math.Max(0, (ratioSquares - n * meanRatio * meanRatio) / (n - 1)) : 0,
        };
        return new PpoLossResult(loss / n, grad, metrics);
    }

    /// <summary>
    /// Clipped value loss (TRL PPOv2): V_c = clip(V, V_old − ε_v, V_old + ε_v),
    /// loss = 0.5·masked mean of max((V − R)², (V_c − R)²). Gradient (V − R)/n through the unclipped branch (half of it
    /// on an exact tie outside the clip range, as torch.maximum splits ties). Metrics: loss/value_avg, val/clipfrac_avg.
    /// </summary>
    public static PpoLossResult ClippedValueLoss(ReadOnlySpan<float> newValues, ReadOnlySpan<float> oldValues, ReadOnlySpan<float> returns,
        ReadOnlySpan<bool> mask, double clipRangeValue)
    {
        int count = mask.Length;
        LossMath.RequireSameLength(count, newValues.Length, nameof(newValues));
        LossMath.RequireSameLength(count, oldValues.Length, nameof(oldValues));
        LossMath.RequireSameLength(count, returns.Length, nameof(returns));
        if (!double.IsFinite(clipRangeValue) || clipRangeValue <= 0)
            throw new ArgumentOutOfRangeException(nameof(clipRangeValue), clipRangeValue, $"cliprange_value must be > 0, got {clipRangeValue}.");
        int n = CountValid(mask);
        var grad = new float[count];
        double loss = 0, clipped = 0;
        for (int i = 0; i < count; i++)
        {
            if (!mask[i]) continue;
            RequireFinite(newValues[i], nameof(newValues), i);
            RequireFinite(oldValues[i], nameof(oldValues), i);
            RequireFinite(returns[i], nameof(returns), i);
            double v = newValues[i], r = returns[i];
            double vc = Math.Clamp(v, (double)oldValues[i] - clipRangeValue, (double)oldValues[i] + clipRangeValue);
            double l1 = (v - r) * (v - r), l2 = (vc - r) * (vc - r);
            loss += 0.5 * Math.Max(l1, l2);
            if (l2 > l1) clipped++;
            bool inside = vc == v;
            double g = l1 > l2 || inside ? v - r : l1 == l2 ? 0.5 * (v - r) : 0;
            grad[i] = (float)(g / n);
        }
        var metrics = new Dictionary<string, double>
        {
            ["loss/value_avg"] = loss / n,
            ["val/clipfrac_avg"] = clipped / n,
        };
        return new PpoLossResult(loss / n, grad, metrics);
    }

    /// <summary>Entropy −Σ p·log p of one distribution given as log-probs (entries of −∞ contribute 0).</summary>
    public static double Entropy(ReadOnlySpan<float> logProbs)
    {
        double entropy = 0;
        foreach (float lp in logProbs)
        {
            if (float.IsNegativeInfinity(lp)) continue;
            if (!float.IsFinite(lp)) throw new ArgumentException($"Log-prob {lp} is not finite.", nameof(logProbs));
            entropy -= Math.Exp(lp) * lp;
        }
        return entropy;
    }

    private static int RowLength(int batch, int maskLength)
    {
        if (batch == 0 || maskLength % batch != 0)
            throw new ArgumentException($"Mask length {maskLength} does not split into {batch} rows.", "mask");
        return maskLength / batch;
    }

    private static int CountValid(ReadOnlySpan<bool> mask)
    {
        int n = 0;
        foreach (bool m in mask) if (m) n++;
        if (n == 0) throw new ArgumentException("The mask selects no token; a masked mean is undefined.", nameof(mask));
        return n;
    }

    private static void RequireFinite(float value, string name, int index)
    {
        if (!float.IsFinite(value)) throw new ArgumentException($"{name}[{index}] is {value} at a valid (unmasked) position.", name);
    }
}
