// Critic-free advantages from a group of completions of one prompt: GRPO's group-relative score and RLOO's
// leave-one-out baseline (TRL GRPOTrainer / RLOOTrainer._generate_and_score_completions). Rewards are consecutive by
// group; NaN marks a completion no reward function could score: it is left out of the statistics and gets advantage 0.
namespace Rlhf.Training.Grpo;

internal sealed record AdvantageResult(float[] Advantages, IReadOnlyDictionary<string, double> Metrics);

internal static class GroupAdvantages
{
    /// <summary>
    /// GRPO: Aᵢ = (rᵢ − mean(group)) / (σ + 1e-4), σ the unbiased std of the group (<see cref="RewardScaling.Group"/>),
    /// of the batch (<see cref="RewardScaling.Batch"/>), or no division (<see cref="RewardScaling.None"/>).
    /// frac_reward_zero_std counts completions whose σ is 0 (their advantage is 0: no signal).
    /// </summary>
    public static AdvantageResult GroupRelative(IReadOnlyList<double> rewards, int groupSize, RewardScaling scaling)
    {
        CheckGroups(rewards.Count, groupSize);
        int n = rewards.Count;
        var advantages = new float[n];
        double batchStd = NanStd(rewards, 0, n);
        int zeroStd = 0;
        for (int start = 0; start < n; start += groupSize)
        {
            double mean = NanMean(rewards, start, groupSize);
            double std = scaling == RewardScaling.Batch ? batchStd : NanStd(rewards, start, groupSize);
            if (IsZero(std)) zeroStd += groupSize;
            for (int i = start; i < start + groupSize; i++)
            {
                double a = rewards[i] - mean;
                if (scaling != RewardScaling.None) a /= std + 1e-4;
                advantages[i] = double.IsNaN(a) ? 0f : (float)a;
            }
        }
        return new AdvantageResult(advantages, Metrics(rewards, zeroStd));
    }

    /// <summary>
    /// RLOO: Aᵢ = rᵢ − (Σⱼ rⱼ − rᵢ) / (k − 1) over the scorable members of the group; with <paramref name="normalize"/>
    /// the advantages are then whitened over the batch, (A − mean) / (std + 1e-4).
    /// </summary>
    public static AdvantageResult LeaveOneOut(IReadOnlyList<double> rewards, int groupSize, bool normalize)
    {
        CheckGroups(rewards.Count, groupSize);
        int n = rewards.Count;
        var raw = new double[n];
        int zeroStd = 0;
        for (int start = 0; start < n; start += groupSize)
        {
            double sum = 0;
            int scorable = 0;
            for (int i = start; i < start + groupSize; i++)
                if (!double.IsNaN(rewards[i])) { sum += rewards[i]; scorable++; }
            if (IsZero(NanStd(rewards, start, groupSize))) zeroStd += groupSize;
            for (int i = start; i < start + groupSize; i++)
                raw[i] = double.IsNaN(rewards[i]) || scorable < 2 ? double.NaN : rewards[i] - (sum - rewards[i]) / (scorable - 1);
        }
        if (normalize)
        {
            double mean = NanMean(raw, 0, n), std = NanStd(raw, 0, n);
            for (int i = 0; i < n; i++) raw[i] = (raw[i] - mean) / (std + 1e-4);
        }
        var advantages = raw.Select(a => double.IsNaN(a) ? 0f : (float)a).ToArray();
        return new AdvantageResult(advantages, Metrics(rewards, zeroStd));
    }

    /// <summary>Mean of the non-NaN values of [start, start + count); NaN when there are none.</summary>
    public static double NanMean(IReadOnlyList<double> values, int start, int count)
    {
        double sum = 0;
        int n = 0;
        for (int i = start; i < start + count; i++)
            if (!double.IsNaN(values[i])) { sum += values[i]; n++; }
        return n == 0 ? double.NaN : sum / n;
    }

    /// <summary>Unbiased (n − 1) standard deviation of the non-NaN values, as TRL's nanstd; NaN below two values.</summary>
    public static double NanStd(IReadOnlyList<double> values, int start, int count)
    {
        double mean = NanMean(values, start, count), squares = 0;
        int n = 0;
        for (int i = start; i < start + count; i++)
            if (!double.IsNaN(values[i])) { squares += (values[i] - mean) * (values[i] - mean); n++; }
        return n < 2 ? double.NaN : Math.Sqrt(squares / (n - 1));
    }

    // torch.isclose(std, 0) with its default atol 1e-8.
    private static bool IsZero(double std) => Math.Abs(std) <= 1e-8;

    private static Dictionary<string, double> Metrics(IReadOnlyList<double> rewards, int zeroStd) => new()
    {
        ["reward"] = NanMean(rewards, 0, rewards.Count),
        ["reward_std"] = rewards.Count > 1 ? NanStd(rewards, 0, rewards.Count) : 0,
        ["frac_reward_zero_std"] = (double)zeroStd / rewards.Count,
    };

    private static void CheckGroups(int count, int groupSize)
    {
        if (groupSize < 2) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "A group needs at least two completions.");
        if (count == 0 || count % groupSize != 0)
            throw new ArgumentException($"{count} rewards do not form whole groups of {groupSize}.", nameof(count));
    }
}
