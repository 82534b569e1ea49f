// Reward-model losses (pairwise Bradley–Terry as in TRL's RewardTrainer, InstructGPT K-wise, softmax-over-K, margin
// ranking): pure functions returning the loss, its gradient with respect to the scalar rewards, and TRL-named metrics.
namespace Rlhf.Training.Reward;

/// <summary>Loss over chosen/rejected reward pairs and its gradients (already divided by the number of pairs).</summary>
internal sealed record PairwiseLossResult(double Loss, float[] DChosen, float[] DRejected, IReadOnlyDictionary<string, double> Metrics);

/// <summary>Loss over groups of rewards laid end to end, and its gradient per reward (already divided by the number of groups).</summary>
internal sealed record GroupLossResult(double Loss, float[] DRewards, IReadOnlyDictionary<string, double> Metrics);

internal static class RewardLosses
{
    /// <summary>
    /// TRL RewardTrainer: loss = mean −log σ(r_c − r_r − m) (the textbook's reward model; InstructGPT eq. 1 with K = 2), plus
    /// <paramref name="centerRewardsCoefficient"/>·mean((r_c + r_r)²) when it is non-zero (Eisenstein et al. 2023).
    /// Metrics: accuracy (fraction with r_c &gt; r_r; a tie counts as wrong), margin (mean r_c − r_r, without m),
    /// mean_reward / min_reward / max_reward over chosen and rejected together.
    /// </summary>
    /// <param name="margins">Per-pair margin m; empty = no margin.</param>
    public static PairwiseLossResult Pairwise(ReadOnlySpan<float> chosen, ReadOnlySpan<float> rejected,
        ReadOnlySpan<float> margins, float centerRewardsCoefficient = 0f)
    {
        int n = CheckPairs(chosen, rejected);
        if (!margins.IsEmpty) LossMath.RequireSameLength(n, margins.Length, nameof(margins));
        LossMath.RequireFinite(margins, nameof(margins));
        if (!float.IsFinite(centerRewardsCoefficient) || centerRewardsCoefficient < 0)
            throw new ArgumentOutOfRangeException(nameof(centerRewardsCoefficient), centerRewardsCoefficient,
                $"center_rewards_coefficient must be finite and ≥ 0, got {centerRewardsCoefficient}.");

        var dChosen = new float[n];
        var dRejected = new float[n];
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            double d = (double)chosen[i] - rejected[i] - (margins.IsEmpty ? 0 : margins[i]);
            loss += -LossMath.LogSigmoid(d);
            // d/dd [−log σ(d)] = −σ(−d)
            double g = -LossMath.Sigmoid(-d);
            double center = 0;
            if (centerRewardsCoefficient != 0)
            {
                double s = (double)chosen[i] + rejected[i];
                loss += centerRewardsCoefficient * s * s;
                center = 2 * centerRewardsCoefficient * s;
            }
            dChosen[i] = (float)((g + center) / n);
            dRejected[i] = (float)((-g + center) / n);
        }
        return new PairwiseLossResult(loss / n, dChosen, dRejected, PairMetrics(chosen, rejected));
    }

    /// <summary>
    /// InstructGPT eq. 1: per group of K ≥ 2 responses ordered best first,
    /// loss = −1/C(K,2)·Σ_{i&lt;j} log σ(r_i − r_j); the result is the mean over groups.
    /// Metrics: accuracy (fraction of all ordered pairs with r_i &gt; r_j; ties count as wrong), mean/min/max_reward.
    /// </summary>
    public static GroupLossResult KWise(float[] rewards, int[] groupSizes)
    {
        CheckGroups(rewards, groupSizes);
        var grad = new double[rewards.Length];
        double loss = 0;
        long correct = 0, pairs = 0;
        int start = 0;
        int groups = groupSizes.Length;
        foreach (int k in groupSizes)
        {
            double pairCount = k * (k - 1) / 2.0;
            double groupLoss = 0;
            for (int i = 0; i < k; i++)
                for (int j = i + 1; j < k; j++)
                {
                    double d = (double)rewards[start + i] - rewards[start + j];
                    groupLoss += -LossMath.LogSigmoid(d);
                    double g = -LossMath.Sigmoid(-d) / (pairCount * groups);
                    grad[start + i] += g;
                    grad[start + j] -= g;
                    if (d > 0) correct++;
                    pairs++;
                }
            loss += groupLoss / pairCount;
            start += k;
        }
        var metrics = RewardStats(rewards);
        metrics["accuracy"] = (double)correct / pairs;
        return new GroupLossResult(loss / groups, LossMath.ToFloat(grad), metrics);
    }

    /// <summary>
    /// Seed 004 (InstructGPT study notes): L = −log( exp(R(x, y_k)) / Σ_i exp(R(x, y_i)) ), the softmax cross-entropy
    /// of the labellers' best response k among the K rewards of one prompt; the result is the mean over groups.
    /// Metrics: accuracy (fraction of groups where r_k is strictly the largest), mean/min/max_reward.
    /// </summary>
    /// <param name="bestIndices">Index of the best response inside each group; null = 0 (groups ordered best first).</param>
    public static GroupLossResult SoftmaxK(float[] rewards, int[] groupSizes, int[]? bestIndices = null)
    {
        CheckGroups(rewards, groupSizes);
        if (bestIndices is not null) LossMath.RequireSameLength(groupSizes.Length, bestIndices.Length, nameof(bestIndices));
        var grad = new double[rewards.Length];
        double loss = 0;
        int correct = 0;
        int start = 0;
        int groups = groupSizes.Length;
        for (int g = 0; g < groups; g++)
        {
            int k = groupSizes[g];
            int best = bestIndices?[g] ?? 0;
            if (best < 0 || best >= k)
                throw new ArgumentOutOfRangeException(nameof(bestIndices), best, $"Group {g} has {k} responses; best index {best} is outside it.");
            double max = double.NegativeInfinity;
            for (int i = 0; i < k; i++) max = Math.Max(max, rewards[start + i]);
            double sum = 0;
            for (int i = 0; i < k; i++) sum += Math.Exp(rewards[start + i] - max);
            double logZ = max + Math.Log(sum);
            loss += logZ - rewards[start + best];
            // ∂L/∂r_i = softmax_i − [i = k]
            bool strictlyBest = true;
            for (int i = 0; i < k; i++)
            {
                double p = Math.Exp(rewards[start + i] - logZ);
                grad[start + i] = (p - (i == best ? 1 : 0)) / groups;
                if (i != best && rewards[start + i] >= rewards[start + best]) strictlyBest = false;
            }
            if (strictlyBest) correct++;
            start += k;
        }
        var metrics = RewardStats(rewards);
        metrics["accuracy"] = (double)correct / groups;
        return new GroupLossResult(loss / groups, LossMath.ToFloat(grad), metrics);
    }

    /// <summary>
    /// torch.nn.MarginRankingLoss with y = 1 (the textbook's conceptual sketch): loss = mean max(0, −(r_c − r_r) + margin).
    /// At the hinge (exactly 0) the sub-gradient 0 is used. Metrics as <see cref="Pairwise"/>.
    /// </summary>
    public static PairwiseLossResult MarginRanking(ReadOnlySpan<float> chosen, ReadOnlySpan<float> rejected, float margin = 1f)
    {
        int n = CheckPairs(chosen, rejected);
        if (!float.IsFinite(margin)) throw new ArgumentOutOfRangeException(nameof(margin), margin, $"margin must be finite, got {margin}.");
        var dChosen = new float[n];
        var dRejected = new float[n];
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            double h = -((double)chosen[i] - rejected[i]) + margin;
            if (h > 0)
            {
                loss += h;
                dChosen[i] = -1f / n;
                dRejected[i] = 1f / n;
            }
        }
        return new PairwiseLossResult(loss / n, dChosen, dRejected, PairMetrics(chosen, rejected));
    }

    private static int CheckPairs(ReadOnlySpan<float> chosen, ReadOnlySpan<float> rejected)
    {
        if (chosen.IsEmpty) throw new ArgumentException("At least one chosen/rejected pair is required.", nameof(chosen));
        LossMath.RequireSameLength(chosen.Length, rejected.Length, nameof(rejected));
        LossMath.RequireFinite(chosen, nameof(chosen));
        LossMath.RequireFinite(rejected, nameof(rejected));
        return chosen.Length;
    }

    private static void CheckGroups(float[] rewards, int[] groupSizes)
    {
        ArgumentNullException.ThrowIfNull(rewards);
        ArgumentNullException.ThrowIfNull(groupSizes);
        if (groupSizes.Length == 0) throw new ArgumentException("At least one group is required.", nameof(groupSizes));
        long total = 0;
        for (int g = 0; g < groupSizes.Length; g++)
        {
            if (groupSizes[g] < 2)
                throw new ArgumentException($"Group {g} has {groupSizes[g]} responses; a ranking needs at least 2.", nameof(groupSizes));
            total += groupSizes[g];
        }
        if (total != rewards.Length)
            throw new ArgumentException($"Group sizes add up to {total} but there are {rewards.Length} rewards.", nameof(groupSizes));
        LossMath.RequireFinite(rewards, nameof(rewards));
    }

    private static Dictionary<string, double> PairMetrics(ReadOnlySpan<float> chosen, ReadOnlySpan<float> rejected)
    {
        int n = chosen.Length;
        double margin = 0, sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            margin += (double)chosen[i] - rejected[i];
            if (chosen[i] > rejected[i]) correct++;
            sum += (double)chosen[i] + rejected[i];
            min = Math.Min(min, Math.Min(chosen[i], rejected[i]));
            max = Math.Max(max, Math.Max(chosen[i], rejected[i]));
        }
        return new Dictionary<string, double>
        {
            ["accuracy"] = (double)correct / n,
            ["margin"] = margin / n,
            ["mean_reward"] = sum / (2.0 * n),
            ["min_reward"] = min,
            ["max_reward"] = max,
        };
    }

    private static Dictionary<string, double> RewardStats(float[] rewards)
    {
        double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (float r in rewards)
        {
            sum += r;
            min = Math.Min(min, r);
            max = Math.Max(max, r);
        }
        return new Dictionary<string, double> { ["mean_reward"] = sum / rewards.Length, ["min_reward"] = min, ["max_reward"] = max };
    }
}
