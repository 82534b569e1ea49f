// Reward-model losses against hand-computed values and finite differences.
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training.Reward;
using Xunit;

namespace Rlhf.Tests.Training;

public class RewardLossTests
{
    private static void Near(double expected, double actual, double tolerance = 1e-6) => Assert.Equal(expected, actual, tolerance);

    [Fact]
    public void PairwiseMatchesHandComputedValues()
    {
        // d = r_c − r_r = [1 − 0, 0 − 2] = [1, −2]
        // −log σ(1) = ln(1 + e⁻¹) = 0.3132617; −log σ(−2) = ln(1 + e²) = 2.1269280; mean = 1.2200948
        // ∂/∂r_c = −σ(−d)/2: σ(−1) = 0.2689414 → −0.1344707; σ(2) = 0.8807971 → −0.4403985
        var result = RewardLosses.Pairwise([1f, 0f], [0f, 2f], []);
        Near(1.2200948, result.Loss);
        Near(-0.1344707, result.DChosen[0]);
        Near(-0.4403985, result.DChosen[1]);
        Near(0.1344707, result.DRejected[0]);
        Near(0.4403985, result.DRejected[1]);
        Near(0.5, result.Metrics["accuracy"]);
        Near(-0.5, result.Metrics["margin"]);          // (1 − 2)/2
        Near(0.75, result.Metrics["mean_reward"]);     // (1 + 0 + 0 + 2)/4
        Near(0, result.Metrics["min_reward"]);
        Near(2, result.Metrics["max_reward"]);
    }

    [Fact]
    public void PairwiseCentringAddsCoefficientTimesMeanSquaredSum()
    {
        // 0.01·mean((1+0)², (0+2)²) = 0.01·2.5 = 0.025 → 1.2200948 + 0.025
        // ∂/∂r = 2·0.01·(r_c + r_r)/2 → +0.01 for pair 0, +0.02 for pair 1 (on both chosen and rejected)
        var result = RewardLosses.Pairwise([1f, 0f], [0f, 2f], [], 0.01f);
        Near(1.2450948, result.Loss);
        Near(-0.1344707 + 0.01, result.DChosen[0]);
        Near(-0.4403985 + 0.02, result.DChosen[1]);
        Near(0.1344707 + 0.01, result.DRejected[0]);
        Near(0.4403985 + 0.02, result.DRejected[1]);
    }

    [Fact]
    public void PairwiseMarginIsSubtractedInsideTheSigmoid()
    {
        // d = 1 − 0 − 1 = 0: −log σ(0) = ln 2; ∂/∂r_c = −σ(0) = −0.5; the margin metric ignores m
        var result = RewardLosses.Pairwise([1f], [0f], [1f]);
        Near(Math.Log(2), result.Loss);
        Near(-0.5, result.DChosen[0]);
        Near(1, result.Metrics["margin"]);
    }

    [Fact]
    public void TiesCountAsWrongInAccuracy()
    {
        var result = RewardLosses.Pairwise([0.5f, 1f], [0.5f, 0f], []);
        Near(0.5, result.Metrics["accuracy"]);
    }

    [Fact]
    public void PairwiseHandlesHugeMarginsWithoutOverflow()
    {
        var result = RewardLosses.Pairwise([1e4f, -1e4f], [-1e4f, 1e4f], []);
        // pair 0: −log σ(2e4) ≈ 0; pair 1: −log σ(−2e4) = 2e4 → mean 1e4
        Near(1e4, result.Loss, 1e-3);
        Assert.All(result.DChosen, g => Assert.True(float.IsFinite(g)));
        Near(0, result.DChosen[0]);
        Near(-0.5, result.DChosen[1]);
        Near(0.5, result.DRejected[1]);
    }

    [Fact]
    public void PairwiseGradientMatchesFiniteDifferences()
    {
        var rng = new Rng(11);
        var chosen = FiniteDifference.RandomArray(rng, 6, 2);
        var rejected = FiniteDifference.RandomArray(rng, 6, 2);
        var margins = FiniteDifference.RandomArray(rng, 6, 0.5);
        var result = RewardLosses.Pairwise(chosen, rejected, margins, 0.05f);
        FiniteDifference.Check("dChosen", chosen, result.DChosen, () => RewardLosses.Pairwise(chosen, rejected, margins, 0.05f).Loss, step: 1e-3);
        FiniteDifference.Check("dRejected", rejected, result.DRejected, () => RewardLosses.Pairwise(chosen, rejected, margins, 0.05f).Loss, step: 1e-3);
    }

    [Fact]
    public void PairwiseRejectsBadInputs()
    {
        Assert.Throws<ArgumentException>(() => RewardLosses.Pairwise([], [], []));
        Assert.Throws<ArgumentException>(() => RewardLosses.Pairwise([1f], [1f, 2f], []));
        var e = Assert.Throws<ArgumentException>(() => RewardLosses.Pairwise([1f, float.NaN], [0f, 0f], []));
        Assert.Contains("chosen[1]", e.Message);
    }

    [Fact]
    public void KWiseMatchesHandComputedValues()
    {
        // group A (K = 3) [2, 1, 0]: pair differences 1, 2, 1
        //   (−log σ(1)·2 − log σ(2))/3 = (0.3132617·2 + 0.1269280)/3 = 0.2511505
        //   ∂/∂r0 = −(σ(−1) + σ(−2))/3 = −(0.2689414 + 0.1192029)/3 = −0.1293814; ∂/∂r1 = 0; ∂/∂r2 = +0.1293814
        // group B (K = 2) [0, 1]: −log σ(−1) = 1.3132617; ∂/∂r0 = −σ(1) = −0.7310586
        // mean over the 2 groups: (0.2511505 + 1.3132617)/2 = 0.7822061; gradients halve
        var result = RewardLosses.KWise([2f, 1f, 0f, 0f, 1f], [3, 2]);
        Near(0.7822061, result.Loss);
        Near(-0.1293814 / 2, result.DRewards[0]);
        Near(0, result.DRewards[1]);
        Near(0.1293814 / 2, result.DRewards[2]);
        Near(-0.7310586 / 2, result.DRewards[3]);
        Near(0.7310586 / 2, result.DRewards[4]);
        Near(0.75, result.Metrics["accuracy"]); // 3 of 4 ordered pairs right
    }

    [Fact]
    public void KWiseWithTwoResponsesEqualsPairwise()
    {
        var rng = new Rng(3);
        var chosen = FiniteDifference.RandomArray(rng, 5, 2);
        var rejected = FiniteDifference.RandomArray(rng, 5, 2);
        var rewards = new float[10];
        for (int i = 0; i < 5; i++) (rewards[2 * i], rewards[2 * i + 1]) = (chosen[i], rejected[i]);
        var kwise = RewardLosses.KWise(rewards, [2, 2, 2, 2, 2]);
        var pairwise = RewardLosses.Pairwise(chosen, rejected, []);
        Near(pairwise.Loss, kwise.Loss, 1e-9);
        Near(pairwise.Metrics["accuracy"], kwise.Metrics["accuracy"], 1e-12);
        for (int i = 0; i < 5; i++)
        {
            Near(pairwise.DChosen[i], kwise.DRewards[2 * i], 1e-7);
            Near(pairwise.DRejected[i], kwise.DRewards[2 * i + 1], 1e-7);
        }
    }

    [Fact]
    public void KWiseGradientMatchesFiniteDifferences()
    {
        var rewards = FiniteDifference.RandomArray(new Rng(5), 9, 2);
        int[] sizes = [4, 2, 3];
        var result = RewardLosses.KWise(rewards, sizes);
        FiniteDifference.Check("dRewards", rewards, result.DRewards, () => RewardLosses.KWise(rewards, sizes).Loss, step: 1e-3);
    }

    [Fact]
    public void KWiseRejectsEmptyOrSingletonGroupsAndBadTotals()
    {
        Assert.Throws<ArgumentException>(() => RewardLosses.KWise([1f, 2f], []));
        Assert.Contains("Group 1", Assert.Throws<ArgumentException>(() => RewardLosses.KWise([1f, 2f], [2, 0])).Message);
        Assert.Throws<ArgumentException>(() => RewardLosses.KWise([1f, 2f, 3f], [2, 1]));
        Assert.Throws<ArgumentException>(() => RewardLosses.KWise([1f, 2f, 3f], [2]));
        Assert.Throws<ArgumentException>(() => RewardLosses.SoftmaxK([1f, 2f], [1, 1]));
    }

    [Fact]
    public void SoftmaxKMatchesHandComputedValues()
    {
        // rewards [ln 3, ln 2, 0] → softmax [3/6, 2/6, 1/6]; best = 0: L = −ln(1/2) = ln 2
        // ∂L/∂r = softmax − onehot = [−1/2, 1/3, 1/6]
        float[] rewards = [(float)Math.Log(3), (float)Math.Log(2), 0f];
        var result = RewardLosses.SoftmaxK(rewards, [3]);
        Near(Math.Log(2), result.Loss);
        Near(-0.5, result.DRewards[0]);
        Near(1.0 / 3, result.DRewards[1]);
        Near(1.0 / 6, result.DRewards[2]);
        Near(1, result.Metrics["accuracy"]);
        // best = 1: L = −ln(1/3) = ln 3 = 1.0986123, and r_1 is not the largest
        var second = RewardLosses.SoftmaxK(rewards, [3], [1]);
        Near(1.0986123, second.Loss);
        Near(0.5, second.DRewards[0]);
        Near(1.0 / 3 - 1, second.DRewards[1]);
        Near(0, second.Metrics["accuracy"]);
    }

    [Fact]
    public void SoftmaxKIsStableAndMatchesFiniteDifferences()
    {
        var huge = RewardLosses.SoftmaxK([1e4f, -1e4f, 0f], [3]);
        Near(0, huge.Loss);
        Assert.All(huge.DRewards, g => Assert.True(float.IsFinite(g)));
        var rewards = FiniteDifference.RandomArray(new Rng(9), 7, 2);
        int[] sizes = [4, 3];
        int[] best = [2, 0];
        var result = RewardLosses.SoftmaxK(rewards, sizes, best);
        FiniteDifference.Check("dRewards", rewards, result.DRewards, () => RewardLosses.SoftmaxK(rewards, sizes, best).Loss, step: 1e-3);
        Assert.Throws<ArgumentOutOfRangeException>(() => RewardLosses.SoftmaxK(rewards, sizes, [4, 0]));
    }

    [Fact]
    public void MarginRankingMatchesTorchDefinition()
    {
        // max(0, −(2 − 0) + 1) = 0; max(0, −(0 − 0) + 1) = 1 → mean 0.5; only pair 1 has gradient (∓1/2)
        var result = RewardLosses.MarginRanking([2f, 0f], [0f, 0f], 1f);
        Near(0.5, result.Loss);
        Near(0, result.DChosen[0]);
        Near(0, result.DRejected[0]);
        Near(-0.5, result.DChosen[1]);
        Near(0.5, result.DRejected[1]);
        Near(0.5, result.Metrics["accuracy"]);

        var rng = new Rng(21);
        var chosen = FiniteDifference.RandomArray(rng, 8, 2);
        var rejected = FiniteDifference.RandomArray(rng, 8, 2);
        var fd = RewardLosses.MarginRanking(chosen, rejected, 0.5f);
        FiniteDifference.Check("dChosen", chosen, fd.DChosen, () => RewardLosses.MarginRanking(chosen, rejected, 0.5f).Loss, step: 1e-3);
        FiniteDifference.Check("dRejected", rejected, fd.DRejected, () => RewardLosses.MarginRanking(chosen, rejected, 0.5f).Loss, step: 1e-3);
    }
}
