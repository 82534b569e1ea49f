// PPO math (KL estimators, token rewards, GAE, whitening, clipped losses, entropy, KL controllers) against hand values.
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training.Ppo;
using Xunit;

namespace Rlhf.Tests.Training;

public class PpoLossTests
{
    private static void Near(double expected, double actual, double tolerance = 1e-6) => Assert.Equal(expected, actual, tolerance);

    [Fact]
    public void KlEstimatorsMatchHandValuesAndSkipMaskedTokens()
    {
        float[] logp = [-1f, -2f, float.NegativeInfinity];
        float[] refLogp = [-1.5f, -1f, float.NegativeInfinity];
        bool[] mask = [true, true, false];
        // k1 = logp − ref = [0.5, −1]
        var k1 = PpoMath.KlPerToken(logp, refLogp, mask, KlEstimator.K1);
        Near(0.5, k1[0]);
        Near(-1, k1[1]);
        Assert.Equal(0f, k1[2]);
        // log r = ref − logp = [−0.5, 1]: k3 = e^−0.5 − 1 + 0.5 = 0.1065307; e − 1 − 1 = 0.7182818
        var k3 = PpoMath.KlPerToken(logp, refLogp, mask, KlEstimator.K3);
        Near(0.1065307, k3[0]);
        Near(0.7182818, k3[1]);
        Assert.Equal(0f, k3[2]);
    }

    [Fact]
    public void K3IsNeverNegative()
    {
        var rng = new Rng(2);
        var logp = FiniteDifference.RandomArray(rng, 2000, 3);
        var refLogp = FiniteDifference.RandomArray(rng, 2000, 3);
        for (int i = 0; i < 100; i++) refLogp[i] = logp[i] + 1e-6f * i; // near-equal log-probs
        var mask = Enumerable.Repeat(true, 2000).ToArray();
        var k3 = PpoMath.KlPerToken(logp, refLogp, mask, KlEstimator.K3);
        Assert.All(k3, k => Assert.True(k >= 0 && float.IsFinite(k)));
        Assert.Equal(0f, PpoMath.KlPerToken([-0.7f], [-0.7f], [true], KlEstimator.K3)[0]);
        Assert.Contains("logp[0]", Assert.Throws<ArgumentException>(() => PpoMath.KlPerToken([float.NaN], [0f], [true], KlEstimator.K1)).Message);
    }

    [Fact]
    public void TokenRewardsPenaliseKlAndPutTheScoreOnTheLastValidToken()
    {
        // β = 0.5; row 0 has 3 valid tokens, row 1 has 2 (its third is padding with a junk KL of 9)
        float[] kl = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 9f];
        bool[] mask = [true, true, true, true, true, false];
        var result = PpoMath.TokenRewards([1f, 2f], kl, mask, 0.5);
        // −0.5·kl, plus the score at the last valid token: [−0.05, −0.1, −0.15 + 1, −0.2, −0.25 + 2, 0]
        float[] expected = [-0.05f, -0.1f, 0.85f, -0.2f, 1.75f, 0f];
        for (int i = 0; i < 6; i++) Near(expected[i], result.Rewards[i]);
        Near(0.75, result.Metrics["objective/kl"]);                  // (0.6 + 0.9)/2
        Near(-0.375, result.Metrics["objective/non_score_reward"]);  // −0.5·0.75
        Near(1.125, result.Metrics["objective/rlhf_reward"]);        // ((1 − 0.3) + (2 − 0.45))/2
        Near(1.5, result.Metrics["objective/scores"]);
        Assert.Throws<ArgumentException>(() => PpoMath.TokenRewards([1f, 2f], kl, [true, true, true, false, false, false], 0.5));
    }

    [Fact]
    public void GaeMatchesHandComputedRecursion()
    {
        // γ = 0.9, λ = 0.8 (γλ = 0.72), r = [1, 0, 2], V = [0.5, 1, 1.5]
        // t=2: δ = 2 + 0 − 1.5 = 0.5;            A = 0.5
        // t=1: δ = 0 + 0.9·1.5 − 1 = 0.35;       A = 0.35 + 0.72·0.5 = 0.71
        // t=0: δ = 1 + 0.9·1 − 0.5 = 1.4;        A = 1.4 + 0.72·0.71 = 1.9112
        // returns = A + V = [2.4112, 1.71, 2.0]
        var full = PpoMath.Gae([1f, 0f, 2f], [0.5f, 1f, 1.5f], [true, true, true], 3, 0.9, 0.8);
        Near(1.9112, full.Advantages[0]);
        Near(0.71, full.Advantages[1]);
        Near(0.5, full.Advantages[2]);
        Near(2.4112, full.Returns[0]);
        Near(1.71, full.Returns[1]);
        Near(2.0, full.Returns[2]);

        // Last token masked (its value is NaN and must not be read): V₂ counts as 0
        // t=1: δ = 0 + 0 − 1 = −1; A = −1.  t=0: δ = 1 + 0.9·1 − 0.5 = 1.4; A = 1.4 − 0.72 = 0.68
        var masked = PpoMath.Gae([1f, 0f, float.NaN], [0.5f, 1f, float.NaN], [true, true, false], 3, 0.9, 0.8);
        Near(0.68, masked.Advantages[0]);
        Near(-1, masked.Advantages[1]);
        Assert.Equal(0f, masked.Advantages[2]);
        Near(1.18, masked.Returns[0]);
        Assert.Equal(0f, masked.Returns[2]);
    }

    [Fact]
    public void GaeWithGammaAndLambdaOneIsRewardToGoMinusValues()
    {
        var rng = new Rng(13);
        const int rows = 3, steps = 5;
        var rewards = FiniteDifference.RandomArray(rng, rows * steps);
        var values = FiniteDifference.RandomArray(rng, rows * steps);
        int[] lengths = [5, 3, 1];
        var mask = new bool[rows * steps];
        for (int b = 0; b < rows; b++)
            for (int t = 0; t < lengths[b]; t++) mask[b * steps + t] = true;
        var result = PpoMath.Gae(rewards, values, mask, steps, 1, 1);
        for (int b = 0; b < rows; b++)
            for (int t = 0; t < steps; t++)
            {
                int i = b * steps + t;
                double toGo = 0;
                for (int s = t; s < lengths[b]; s++) toGo += rewards[b * steps + s];
                Near(t < lengths[b] ? toGo - values[i] : 0, result.Advantages[i], 1e-5);
                Near(t < lengths[b] ? toGo : 0, result.Returns[i], 1e-5);
            }
    }

    [Fact]
    public void WhitenGivesZeroMeanUnitVarianceOnValidTokensAndLeavesMaskedOnes()
    {
        // valid [1, 2, 3, 4]: mean 2.5, unbiased var (2.25 + 0.25 + 0.25 + 2.25)/3 = 5/3
        float[] values = [1f, 2f, 100f, 3f, 4f];
        bool[] mask = [true, true, false, true, true];
        var white = PpoMath.Whiten(values, mask);
        double scale = 1 / Math.Sqrt(5.0 / 3 + 1e-8);
        Near(-1.5 * scale, white[0]);
        Near(1.5 * scale, white[4]);
        Assert.Equal(100f, white[2]);
        double[] valid = [white[0], white[1], white[3], white[4]];
        Near(0, valid.Average());
        Near(1, valid.Sum(v => v * v) / 3, 1e-5);
        var unshifted = PpoMath.Whiten(values, mask, shiftMean: false);
        Near(2.5 - 1.5 * scale, unshifted[0]);
        Assert.Throws<ArgumentException>(() => PpoMath.Whiten([1f, 2f], [true, false]));
    }

    [Fact]
    public void PolicyLossAtRatioOneHasZeroApproxKlAndClipFraction()
    {
        float[] logp = [-1f, -2f, -0.5f, float.NegativeInfinity];
        float[] advantages = [1f, -2f, 0.5f, float.NaN];
        bool[] mask = [true, true, true, false];
        var result = PpoMath.ClippedPolicyLoss(logp, logp, advantages, mask, 0.2);
        Near(0, result.Metrics["policy/approxkl_avg"]);
        Near(0, result.Metrics["policy/clipfrac_avg"]);
        Near(1, result.Metrics["val/ratio"]);
        Near(0.5 / 3, result.Loss);            // −mean(A) = −(1 − 2 + 0.5)/3
        Near(-1.0 / 3, result.Gradient[0]);    // −A·ρ/n
        Near(2.0 / 3, result.Gradient[1]);
        Assert.Equal(0f, result.Gradient[3]);
    }

    [Fact]
    public void PolicyLossMatchesHandComputedClipping()
    {
        // ε = 0.2, old logp 0, ρ = [1.5, 0.5, 1.1, 0.5], A = [1, −1, 2, 1]
        // t0: max(−1.5, −1.2) = −1.2 clipped (no grad);  t1: max(0.5, 0.8) = 0.8 clipped (no grad)
        // t2: max(−2.2, −2.2) = −2.2, grad −2·1.1/4 = −0.55;  t3: max(−0.5, −0.8) = −0.5, grad −0.5/4 = −0.125
        // loss = (−1.2 + 0.8 − 2.2 − 0.5)/4 = −0.775; clipfrac = 2/4
        // approxkl = 0.5·(ln²1.5 + ln²0.5 + ln²1.1 + ln²0.5)/4 = 0.5·(0.1644020 + 0.4804530 + 0.0090840 + 0.4804530)/4 = 0.1417990
        float[] newLogp = [(float)Math.Log(1.5), (float)Math.Log(0.5), (float)Math.Log(1.1), (float)Math.Log(0.5)];
        var result = PpoMath.ClippedPolicyLoss(newLogp, new float[4], [1f, -1f, 2f, 1f], [true, true, true, true], 0.2);
        Near(-0.775, result.Loss);
        Near(0, result.Gradient[0]);
        Near(0, result.Gradient[1]);
        Near(-0.55, result.Gradient[2]);
        Near(-0.125, result.Gradient[3]);
        Near(0.5, result.Metrics["policy/clipfrac_avg"]);
        Near(0.1417990, result.Metrics["policy/approxkl_avg"]);
        Near(0.9, result.Metrics["val/ratio"]);   // (1.5 + 0.5 + 1.1 + 0.5)/4
        Near(-0.775, result.Metrics["loss/policy_avg"]);
    }

    [Fact]
    public void PolicyLossGradientMatchesFiniteDifferences()
    {
        var rng = new Rng(31);
        const int n = 40;
        var oldLogp = FiniteDifference.RandomArray(rng, n);
        var newLogp = new float[n];
        var noise = FiniteDifference.RandomArray(rng, n, 0.3);
        for (int i = 0; i < n; i++)
        {
            double diff = noise[i];
            // keep ratios away from the clip edges so the central difference stays on one branch
            if (Math.Abs(Math.Exp(diff) - 1.2) < 0.01 || Math.Abs(Math.Exp(diff) - 0.8) < 0.01) diff += 0.05;
            newLogp[i] = (float)(oldLogp[i] + diff);
        }
        var advantages = FiniteDifference.RandomArray(rng, n);
        var mask = Enumerable.Range(0, n).Select(i => i % 7 != 3).ToArray();
        var result = PpoMath.ClippedPolicyLoss(newLogp, oldLogp, advantages, mask, 0.2);
        Assert.InRange(result.Metrics["policy/clipfrac_avg"], 0.05, 0.95); // both branches exercised
        FiniteDifference.Check("dNewLogp", newLogp, result.Gradient,
            () => PpoMath.ClippedPolicyLoss(newLogp, oldLogp, advantages, mask, 0.2).Loss, step: 1e-3);
    }

    [Fact]
    public void ValueLossMatchesHandComputedClipping()
    {
        // ε_v = 0.2, V = [1, 2, 0.5], V_old = [0, 0, 0.5], R = [0, 2, 1]
        // t0: V_c = 0.2: (1 − 0)² = 1 vs (0.2)² = 0.04 → 1, grad (1 − 0)/3
        // t1: V_c = 0.2: (2 − 2)² = 0 vs (0.2 − 2)² = 3.24 → 3.24 clipped, grad 0
        // t2: V_c = 0.5 (inside): 0.25, grad (0.5 − 1)/3
        // loss = 0.5·(1 + 3.24 + 0.25)/3 = 0.7483333; clipfrac = 1/3
        var result = PpoMath.ClippedValueLoss([1f, 2f, 0.5f, 7f], [0f, 0f, 0.5f, 0f], [0f, 2f, 1f, float.NaN], [true, true, true, false], 0.2);
        Near(0.7483333, result.Loss);
        Near(1.0 / 3, result.Gradient[0]);
        Near(0, result.Gradient[1]);
        Near(-0.5 / 3, result.Gradient[2]);
        Assert.Equal(0f, result.Gradient[3]);
        Near(0.7483333, result.Metrics["loss/value_avg"]);
        Near(1.0 / 3, result.Metrics["val/clipfrac_avg"]);
    }

    [Fact]
    public void ValueLossGradientMatchesFiniteDifferences()
    {
        var rng = new Rng(41);
        const int n = 30;
        var oldValues = FiniteDifference.RandomArray(rng, n);
        var newValues = FiniteDifference.RandomArray(rng, n);
        var returns = FiniteDifference.RandomArray(rng, n);
        for (int i = 0; i < n; i++)
        {
            // stay off the clip edges and off exact ties
            double d = newValues[i] - oldValues[i];
            if (Math.Abs(Math.Abs(d) - 0.2) < 0.01) newValues[i] += 0.05f;
        }
        var mask = Enumerable.Range(0, n).Select(i => i % 5 != 0).ToArray();
        var result = PpoMath.ClippedValueLoss(newValues, oldValues, returns, mask, 0.2);
        FiniteDifference.Check("dNewValues", newValues, result.Gradient,
            () => PpoMath.ClippedValueLoss(newValues, oldValues, returns, mask, 0.2).Loss, step: 1e-3);
    }

    [Fact]
    public void EntropyOfKnownDistributions()
    {
        float ln4 = (float)Math.Log(0.25);
        Near(Math.Log(4), PpoMath.Entropy([ln4, ln4, ln4, ln4]));          // uniform over 4: ln 4 = 1.3862944
        float half = (float)Math.Log(0.5);
        Near(Math.Log(2), PpoMath.Entropy([half, half, float.NegativeInfinity])); // zero-probability entries add 0
        Near(0, PpoMath.Entropy([0f, float.NegativeInfinity]));
    }

    [Fact]
    public void ZieglerControllerFollowsTheProportionalRule()
    {
        var controller = new ZieglerKlController(0.2, target: 6, horizon: 10000);
        // KL 9: e = clip(9/6 − 1 = 0.5) = 0.2 → β = 0.2·(1 + 0.2·256/10000) = 0.2·1.00512 = 0.201024
        controller.Update(9, 256);
        Near(0.201024, controller.Value, 1e-12);
        // KL 3: e = clip(−0.5) = −0.2 → β = 0.201024·(1 − 0.00512) = 0.19999476
        controller.Update(3, 256);
        Near(0.201024 * 0.99488, controller.Value, 1e-12);
        // KL 6.6: e = 0.1 → ×(1 + 0.1·256/10000) = ×1.00256
        controller.Update(6.6, 256);
        Near(0.201024 * 0.99488 * 1.00256, controller.Value, 1e-12);
        // n_steps 0 changes nothing
        double before = controller.Value;
        controller.Update(100, 0);
        Assert.Equal(before, controller.Value);
        Assert.Equal(6, controller.Target);
        Assert.Equal(10000, controller.Horizon);
        // checkpoint round trip
        var resumed = new ZieglerKlController(0.2, 6, 10000);
        resumed.Restore(controller.Value);
        resumed.Update(9, 256);
        controller.Update(9, 256);
        Assert.Equal(controller.Value, resumed.Value);
    }

    [Fact]
    public void SeedAdaptiveControllerDoublesAndHalves()
    {
        // target 2: doubles above 3 (= 1.5·2), halves below 1.333 (= 2/1.5), otherwise unchanged
        var controller = new SeedAdaptiveKlController(1.0, target: 2);
        double[] kls = [3.5, 3.0, 1.0, 1.4, 0.1, 2.0];
        double[] expected = [2.0, 2.0, 1.0, 1.0, 0.5, 0.5];
        for (int i = 0; i < kls.Length; i++)
        {
            controller.Update(kls[i], 1);
            Assert.Equal(expected[i], controller.Value);
        }
        Assert.Equal(2, controller.Target);
        controller.Restore(0.25);
        Assert.Equal(0.25, controller.Value);
    }

    [Fact]
    public void FixedControllerNeverMovesAndControllersValidate()
    {
        IKlController controller = new FixedKlController(0.05);
        controller.Update(100, 10);
        controller.Update(0, 10);
        Assert.Equal(0.05, controller.Value);
        Assert.Contains("-1", Assert.Throws<ArgumentOutOfRangeException>(() => new FixedKlController(-1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZieglerKlController(0.1, 0, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SeedAdaptiveKlController(0.1, -2));
        Assert.Throws<ArgumentOutOfRangeException>(() => controller.Update(double.NaN, 1));
    }
}
