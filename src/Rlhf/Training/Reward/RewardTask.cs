// Reward-model training on the shared loop: every response of a micro-batch in one padded forward, the loss
// from RewardLosses, its gradient pushed back through the scalar head and the backbone.
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Training.Reward;

/// <summary>Reward-model loss settings, with TRL's RewardConfig names.</summary>
public sealed record RewardConfig
{
    /// <summary>How ranked responses become a loss. Default <see cref="RewardLossType.Pairwise"/> (Bradley–Terry).</summary>
    public RewardLossType LossType { get; init; } = RewardLossType.Pairwise;
    /// <summary>TRL's center_rewards_coefficient: adds c·mean((r_w + r_l)²) to keep rewards centred (pairs only).</summary>
    public float CenterRewardsCoefficient { get; init; }
    /// <summary>Margin of the margin-ranking loss.</summary>
    public float RankingMargin { get; init; } = 1f;

    /// <summary>Checks the settings against their ranges.</summary>
    /// <exception cref="ArgumentException">A setting is negative (the message names it).</exception>
    public void Validate()
    {
        if (CenterRewardsCoefficient < 0) throw new ArgumentException($"center_rewards_coefficient must be ≥ 0 (got {CenterRewardsCoefficient}).");
        if (RankingMargin < 0) throw new ArgumentException($"The ranking margin must be ≥ 0 (got {RankingMargin}).");
    }
}

internal sealed class RewardTask : ITrainingTask<RewardExample>, IDisposable
{
    private readonly Arena arena = new();
    private readonly Tape tape = new();
    private readonly Action<string>? saveExtras;

    public RewardModel RewardModel { get; }
    public RewardConfig Config { get; }
    /// <summary>The id batches are padded with: the reward model's pad id when it has one, else the one given.</summary>
    public int PadTokenId { get; }
    public ParameterSet Parameters => RewardModel.Model.Parameters;

    public RewardTask(RewardModel rewardModel, RewardConfig config, int padTokenId, Action<string>? saveExtras = null)
    {
        config.Validate();
        RewardModel = rewardModel;
        Config = config;
        // Pad with the id pooling skips, so a padded position is never the one scored.
        PadTokenId = rewardModel.PadTokenId ?? padTokenId;
        this.saveExtras = saveExtras;
    }

    /// <summary>Right-pads every response of the examples into one batch (rows grouped per example, best first).</summary>
    public static CausalLmBatch Collate(IReadOnlyList<RewardExample> examples, int padTokenId)
    {
        var rows = examples.SelectMany(e => e.Sequences).ToArray();
        int length = rows.Max(r => r.Length);
        var ids = new int[rows.Length * length];
        var mask = new float[rows.Length * length];
        Array.Fill(ids, padTokenId);
        for (int b = 0; b < rows.Length; b++)
        {
            if (rows[b].Length == 0) throw new ArgumentException("A response sequence is empty.");
            rows[b].CopyTo(ids, b * length);
            for (int t = 0; t < rows[b].Length; t++) mask[b * length + t] = 1f;
        }
        return new CausalLmBatch(rows.Length, length, ids, mask);
    }

    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<RewardExample>> microBatches)
    {
        int total = microBatches.Sum(b => b.Count);
        var sums = new Dictionary<string, double>();
        double tokens = 0;
        foreach (var examples in microBatches)
        {
            arena.Reset();
            var batch = Collate(examples, PadTokenId);
            var rewards = RewardModel.Rewards(new Ops(arena, tape), batch);
            var (loss, gradient, metrics) = Loss(examples, rewards.Value.ToArray());
            float scale = (float)examples.Count / total; // the group's loss is the mean over all its examples
            var grad = rewards.Gradient.Span;
            for (int i = 0; i < gradient.Length; i++) grad[i] = gradient[i] * scale;
            tape.Backward();
            Accumulate(sums, "loss", loss * scale);
            foreach (var (name, value) in metrics) Accumulate(sums, name, value * scale);
            tokens += batch.AttentionMask.Sum();
        }
        sums["tokens"] = tokens;
        return sums;
    }

    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<RewardExample> examples, int batchSize)
    {
        var sums = new Dictionary<string, double>();
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        tape.Enabled = false;
        try
        {
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                var chunk = examples.Skip(start).Take(batchSize).ToArray();
                arena.Reset();
                var rewards = RewardModel.Rewards(new Ops(arena, tape), Collate(chunk, PadTokenId), trainable: false).Value.ToArray();
                var (loss, _, metrics) = Loss(chunk, rewards);
                double weight = (double)chunk.Length / examples.Count;
                Accumulate(sums, "loss", loss * weight);
                foreach (var (name, value) in metrics)
                {
                    if (name == "min_reward") min = Math.Min(min, value);
                    else if (name == "max_reward") max = Math.Max(max, value);
                    else Accumulate(sums, name, value * weight);
                }
            }
        }
        finally
        {
            tape.Enabled = true;
        }
        if (double.IsFinite(min)) sums["min_reward"] = min;
        if (double.IsFinite(max)) sums["max_reward"] = max;
        return sums;
    }

    /// <summary>Loss, ∂loss/∂reward per row, and metrics for one micro-batch's rewards (rows grouped per example).</summary>
    private (double Loss, float[] Gradient, IReadOnlyDictionary<string, double> Metrics) Loss(IReadOnlyList<RewardExample> examples, float[] rewards)
    {
        bool allPairs = examples.All(e => e.Count == 2);
        var type = Config.LossType == RewardLossType.Pairwise && !allPairs ? RewardLossType.KWise : Config.LossType;
        if (type is RewardLossType.Pairwise or RewardLossType.MarginRanking)
        {
            if (!allPairs) throw new ArgumentException($"The {type} loss needs pairs; use the K-wise or softmax loss for ranked lists.");
            var chosen = new float[examples.Count];
            var rejected = new float[examples.Count];
            for (int i = 0; i < examples.Count; i++) (chosen[i], rejected[i]) = (rewards[2 * i], rewards[2 * i + 1]);
            var margins = examples.Any(e => e.Margin is not null) ? examples.Select(e => e.Margin ?? 0f).ToArray() : [];
            var result = type == RewardLossType.Pairwise
                ? RewardLosses.Pairwise(chosen, rejected, margins, Config.CenterRewardsCoefficient)
                : RewardLosses.MarginRanking(chosen, rejected, Config.RankingMargin);
            var gradient = new float[rewards.Length];
            for (int i = 0; i < examples.Count; i++) (gradient[2 * i], gradient[2 * i + 1]) = (result.DChosen[i], result.DRejected[i]);
            return (result.Loss, gradient, result.Metrics);
        }
        var sizes = examples.Select(e => e.Count).ToArray();
        var group = type == RewardLossType.KWise ? RewardLosses.KWise(rewards, sizes) : RewardLosses.SoftmaxK(rewards, sizes);
        return (group.Loss, group.DRewards, WithRewardStats(group.Metrics, rewards, sizes));
    }

    /// <summary>Adds reward statistics; for ranked lists, margin = mean over ordered pairs of (r_better − r_worse).</summary>
    private static IReadOnlyDictionary<string, double> WithRewardStats(IReadOnlyDictionary<string, double> metrics, float[] rewards, int[] sizes)
    {
        var all = new Dictionary<string, double>(metrics);
        double marginSum = 0;
        int pairs = 0, offset = 0;
        foreach (int size in sizes)
        {
            for (int i = 0; i < size; i++)
                for (int j = i + 1; j < size; j++, pairs++) marginSum += rewards[offset + i] - rewards[offset + j];
            offset += size;
        }
        all.TryAdd("margin", pairs == 0 ? 0 : marginSum / pairs);
        all.TryAdd("mean_reward", rewards.Average());
        all.TryAdd("min_reward", rewards.Min());
        all.TryAdd("max_reward", rewards.Max());
        return all;
    }

    private static void Accumulate(Dictionary<string, double> sums, string name, double value) => sums[name] = sums.GetValueOrDefault(name) + value;

    /// <summary>Rewards for already tokenised sequences (no gradients), in batches.</summary>
    public float[] Score(IReadOnlyList<int[]> sequences, int batchSize = 16)
    {
        var scores = new List<float>();
        tape.Enabled = false;
        try
        {
            for (int start = 0; start < sequences.Count; start += batchSize)
            {
                arena.Reset();
                var chunk = sequences.Skip(start).Take(batchSize).Select(s => new RewardExample([s, s])).ToArray();
                var rewards = RewardModel.Rewards(new Ops(arena, tape), Collate(chunk, PadTokenId), trainable: false).Value.ToArray();
                for (int i = 0; i < chunk.Length; i++) scores.Add(rewards[2 * i]);
            }
        }
        finally
        {
            tape.Enabled = true;
        }
        return [.. scores];
    }

    public void SaveModel(string directory)
    {
        RewardModel.Save(directory);
        saveExtras?.Invoke(directory);
    }

    public void LoadModel(string directory) => RewardModel.Model.LoadWeights(directory);

    public void Dispose() => arena.Dispose();
}
