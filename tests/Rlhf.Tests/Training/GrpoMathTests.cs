// GRPO/RLOO math against hand computations: group-relative and leave-one-out advantages (zero-variance groups, NaN
// rewards, batch scaling), each loss type's aggregation, clipping, the k3 KL term, and finite-difference gradients.
using Rlhf.Tests.Support;
using Rlhf.Training.Grpo;
using Xunit;

namespace Rlhf.Tests.Training;

public class GrpoMathTests
{
    [Fact]
    public void GroupRelativeAdvantagesAreTheZScoreWithinEachGroup()
    {
        // Group 1: mean 2.5, unbiased std √(5/3); group 2 has zero variance.
        var result = GroupAdvantages.GroupRelative([1, 2, 3, 4, 5, 5, 5, 5], 4, RewardScaling.Group);
        double std = Math.Sqrt(5.0 / 3);
        double[] expected = [-1.5 / (std + 1e-4), -0.5 / (std + 1e-4), 0.5 / (std + 1e-4), 1.5 / (std + 1e-4), 0, 0, 0, 0];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], result.Advantages[i], 1e-6);
        Assert.Equal(0.5, result.Metrics["frac_reward_zero_std"]);
        Assert.Equal(3.75, result.Metrics["reward"], 1e-12);
    }

    [Fact]
    public void BatchScalingDividesByTheBatchStdAndNoneDividesByNothing()
    {
        double[] rewards = [0, 2, 10, 14];
        double batchStd = Math.Sqrt(new[] { 0.0, 2, 10, 14 }.Select(r => (r - 6.5) * (r - 6.5)).Sum() / 3);
        var batch = GroupAdvantages.GroupRelative(rewards, 2, RewardScaling.Batch);
        Assert.Equal(-1 / (batchStd + 1e-4), batch.Advantages[0], 1e-6);
        Assert.Equal(2 / (batchStd + 1e-4), batch.Advantages[3], 1e-6);
        Assert.Equal(0, batch.Metrics["frac_reward_zero_std"]);
        var none = GroupAdvantages.GroupRelative(rewards, 2, RewardScaling.None);
        Assert.Equal(new float[] { -1, 1, -2, 2 }, none.Advantages);
    }

    [Fact]
    public void AnUnscorableCompletionIsLeftOutOfItsGroupAndGetsNoAdvantage()
    {
        var result = GroupAdvantages.GroupRelative([1, double.NaN, 3], 3, RewardScaling.None);
        Assert.Equal(new float[] { -1, 0, 1 }, result.Advantages);
    }

    [Fact]
    public void LeaveOneOutSubtractsTheMeanOfTheOthers()
    {
        // Group [1, 2, 3]: baselines 2.5, 2, 1.5; group [4, 4]: zero variance, advantages 0.
        var result = GroupAdvantages.LeaveOneOut([1, 2, 3, 4, 4, 4], 3, normalize: false);
        Assert.Equal(new float[] { -1.5f, 0, 1.5f, 0, 0, 0 }, result.Advantages);
        Assert.Equal(0.5, result.Metrics["frac_reward_zero_std"]);
        var whitened = GroupAdvantages.LeaveOneOut([1, 2, 3, 4, 4, 4], 3, normalize: true);
        double std = Math.Sqrt(2 * 1.5 * 1.5 / 5);
        Assert.Equal(-1.5 / (std + 1e-4), whitened.Advantages[0], 1e-6);
        Assert.Equal(0, whitened.Advantages[4], 1e-6);
    }

    private static LossSequence Seq(float[] logp, float[]? old, float advantage, float[]? reference = null, bool included = true) =>
        new(logp, old, reference, new float[logp.Length], advantage, included);

    [Fact]
    public void EachLossTypeAggregatesAsTrlDoes()
    {
        // Ratio 1 everywhere (μ = 1): every token's loss is −A. Lengths 2 and 4, advantages +1 and −0.5.
        var batch = new[] { Seq([-1, -2], null, 1f), Seq([-1, -1, -1, -1], null, -0.5f) };
        double Loss(GrpoLossType type, long generationTokens = 6, int accumulation = 1) =>
            GrpoLoss.Compute(batch, new GrpoConfig { LossType = type, MaxCompletionLength = 8 }, generationTokens, accumulation).Loss;
        Assert.Equal((-1.0 + 0.5) / 2, Loss(GrpoLossType.Grpo), 1e-12);                // mean of sequence means
        Assert.Equal((-2.0 + 2.0) / 6, Loss(GrpoLossType.Bnpo), 1e-12);                // Σ / tokens of the micro-batch
        Assert.Equal((-2.0 + 2.0) / (2 * 8), Loss(GrpoLossType.DrGrpo), 1e-12);         // Σ / (B · max_completion_length)
        Assert.Equal(0.0, Loss(GrpoLossType.Dapo, generationTokens: 12), 1e-12);        // Σ / tokens of the generation batch
        Assert.Equal((-1.0 + 0.5) / 2 / 3, Loss(GrpoLossType.Grpo, accumulation: 3), 1e-12);
        var dapo = GrpoLoss.Compute(batch, new GrpoConfig { LossType = GrpoLossType.Dapo }, 12, 3);
        Assert.Equal(-1.0 / 12, dapo.Gradients[0][0], 1e-7); // DAPO's normaliser is already global: no ÷ accumulation
        Assert.Equal(0.5 / 12, dapo.Gradients[1][3], 1e-7);
    }

    [Fact]
    public void ClippingStopsTheGradientOnlyOutsideTheBandInTheAdvantagesDirection()
    {
        float lnHigh = MathF.Log(1.5f), lnLow = MathF.Log(0.5f);
        // ρ = 1.5 > 1 + ε: clipped for A > 0 (no gradient), not for A < 0; ρ = 0.5: the other way round.
        var batch = new[]
        {
            Seq([lnHigh], [0], 1f), Seq([lnHigh], [0], -1f), Seq([lnLow], [0], 1f), Seq([lnLow], [0], -1f),
        };
        var result = GrpoLoss.Compute(batch, new GrpoConfig { LossType = GrpoLossType.Bnpo }, 4, 1);
        Assert.Equal(0f, result.Gradients[0][0]);
        Assert.Equal(1.5 / 4, result.Gradients[1][0], 1e-6);
        Assert.Equal(-0.5 / 4, result.Gradients[2][0], 1e-6);
        Assert.Equal(0f, result.Gradients[3][0]);
        Assert.Equal((-1.2 + 1.5 - 0.5 + 0.8) / 4, result.Loss, 1e-6);
        Assert.Equal(0.25, result.Metrics["clip_ratio/high_mean"]);
        Assert.Equal(0.25, result.Metrics["clip_ratio/low_mean"]);
        Assert.Equal(0.5, result.Metrics["clip_ratio/region_mean"]);
        // ε_high widens the upper bound only.
        var wide = GrpoLoss.Compute(batch, new GrpoConfig { LossType = GrpoLossType.Bnpo, EpsilonHigh = 0.6 }, 4, 1);
        Assert.Equal(-1.5 / 4, wide.Gradients[0][0], 1e-6);
    }

    [Fact]
    public void TheKlTermIsK3AndExcludedSequencesContributeNothing()
    {
        var batch = new[] { Seq([-1f], null, 0f, reference: [-1.5f]), Seq([-2f, -3f], null, 2f, included: false) };
        var result = GrpoLoss.Compute(batch, new GrpoConfig { LossType = GrpoLossType.Bnpo, Beta = 0.1 }, 1, 1);
        double delta = -0.5, k3 = Math.Exp(delta) - delta - 1;
        Assert.Equal(0.1 * k3, result.Loss, 1e-7);
        Assert.Equal(k3, result.Metrics["kl"], 1e-7);
        Assert.Equal(0.1 * (1 - Math.Exp(delta)), result.Gradients[0][0], 1e-7);
        Assert.All(result.Gradients[1], g => Assert.Equal(0f, g));
    }

    public static TheoryData<string> LossCases() => new() { "grpo", "dr_grpo", "dapo", "bnpo", "grpo-kl", "rloo" };

    [Theory]
    [MemberData(nameof(LossCases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var config = name switch
        {
            "grpo" => new GrpoConfig { LossType = GrpoLossType.Grpo },
            "dr_grpo" => new GrpoConfig { LossType = GrpoLossType.DrGrpo, MaxCompletionLength = 5 },
            "dapo" => new GrpoConfig { LossType = GrpoLossType.Dapo, EpsilonHigh = 0.28 },
            "bnpo" => new GrpoConfig { LossType = GrpoLossType.Bnpo },
            "grpo-kl" => new GrpoConfig { LossType = GrpoLossType.Grpo, Beta = 0.3 },
            _ => GrpoConfig.Rloo with { Beta = 0 },
        };
        // Ratios spread inside and outside the clip band, away from its edges (the loss has kinks there).
        var rng = new Random(3);
        var sequences = new List<LossSequence>();
        var logps = new List<float[]>();
        for (int b = 0; b < 4; b++)
        {
            int length = 2 + b;
            var old = Enumerable.Range(0, length).Select(_ => (float)(-1 - rng.NextDouble())).ToArray();
            float[] shifts = [-0.6f, -0.1f, 0.05f, 0.5f];
            var logp = old.Select((o, t) => o + (name == "rloo" ? shifts[b] / length : shifts[(b + t) % 4])).ToArray();
            var reference = old.Select(o => o - 0.3f).ToArray();
            logps.Add(logp);
            sequences.Add(new LossSequence(logp, old, reference, new float[length], b % 2 == 0 ? 0.8f : -1.2f, true));
        }
        var analytic = GrpoLoss.Compute(sequences, config, 20, 2);
        for (int b = 0; b < sequences.Count; b++)
        {
            FiniteDifference.Check($"{name} row {b}", logps[b], analytic.Gradients[b],
                () => GrpoLoss.Compute(sequences, config, 20, 2).Loss, step: 1e-3, absTol: 1e-5, relTol: 1e-3);
        }
    }

    [Fact]
    public void RlooIsASequenceLevelRatioMeanOverSequences()
    {
        // Σ log ratio = log 1.1 inside the band: loss = −ρ·A per sequence, gradient −ρ·A/B on each of its tokens.
        float half = MathF.Log(1.1f) / 2;
        var batch = new[] { Seq([half, half], [0, 0], 2f), Seq([0f], [0f], -1f) };
        var result = GrpoLoss.Compute(batch, GrpoConfig.Rloo, 0, 1);
        Assert.Equal((-1.1 * 2 + 1) / 2, result.Loss, 1e-6);
        Assert.Equal(-1.1 * 2 / 2, result.Gradients[0][0], 1e-6);
        Assert.Equal(-1.1 * 2 / 2, result.Gradients[0][1], 1e-6);
        Assert.Equal(1.0 / 2, result.Gradients[1][0], 1e-6);
    }
}
