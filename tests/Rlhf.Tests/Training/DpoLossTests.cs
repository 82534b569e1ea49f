// DPO loss family (sigmoid, IPO, hinge, robust, RPO, reference-free) against hand-computed values and finite differences.
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training.Dpo;
using Xunit;

namespace Rlhf.Tests.Training;

public class DpoLossTests
{
    private static void Near(double expected, double actual, double tolerance = 1e-6) => Assert.Equal(expected, actual, tolerance);

    // One pair: π_c = −1, π_r = −2, ref_c = ref_r = −1.5 → chosen ratio 0.5, rejected ratio −0.5, h = 1.
    private static DpoLossResult OnePair(DpoLossOptions options, ReadOnlySpan<int> counts = default) =>
        DpoLosses.Compute([-1f], [-2f], [-1.5f], [-1.5f], options, counts);

    [Fact]
    public void SigmoidMatchesHandComputedValues()
    {
        // β = 0.5, z = βh = 0.5: −log σ(0.5) = ln(1 + e^−0.5) = 0.4740770
        // ∂L/∂π_c = −β·σ(−0.5) = −0.5·0.3775407 = −0.1887703; ∂L/∂π_r = +0.1887703
        var result = OnePair(new DpoLossOptions(Beta: 0.5f));
        Near(0.4740770, result.Loss);
        Near(-0.1887703, result.DPolicyChosen[0]);
        Near(0.1887703, result.DPolicyRejected[0]);
        Near(0.25, result.Metrics["rewards/chosen"]);     // 0.5·(−1 + 1.5)
        Near(-0.25, result.Metrics["rewards/rejected"]);  // 0.5·(−2 + 1.5)
        Near(0.5, result.Metrics["rewards/margins"]);
        Near(1, result.Metrics["rewards/accuracies"]);
        Near(-1, result.Metrics["logps/chosen"]);
        Near(-2, result.Metrics["logps/rejected"]);
    }

    [Fact]
    public void LabelSmoothingGivesConservativeDpo()
    {
        // ε = 0.1: 0.9·(−log σ(0.5)) + 0.1·(−log σ(−0.5)) = 0.9·0.4740770 + 0.1·0.9740770 = 0.5240770
        // ∂/∂π_c = β·(−0.9·σ(−0.5) + 0.1·σ(0.5)) = 0.5·(−0.3397866 + 0.0622459) = −0.1387704
        var result = OnePair(new DpoLossOptions(Beta: 0.5f, LabelSmoothing: 0.1f));
        Near(0.5240770, result.Loss);
        Near(-0.1387704, result.DPolicyChosen[0]);
    }

    [Fact]
    public void RobustMatchesHandComputedValues()
    {
        // ((0.9·0.4740770) − 0.1·0.9740770)/0.8 = (0.4266693 − 0.0974077)/0.8 = 0.4115770
        // ∂/∂π_c = β·(−0.9·σ(−0.5) − 0.1·σ(0.5))/0.8 = 0.5·(−0.3397866 − 0.0622459)/0.8 = −0.2512703
        var result = OnePair(new DpoLossOptions(Beta: 0.5f, LossType: DpoLossType.Robust, LabelSmoothing: 0.1f));
        Near(0.4115770, result.Loss);
        Near(-0.2512703, result.DPolicyChosen[0]);
        Near(0.2512703, result.DPolicyRejected[0]);
    }

    [Fact]
    public void HingeMatchesHandComputedValues()
    {
        // max(0, 1 − 0.5·1) = 0.5, ∂/∂π_c = −β = −0.5
        var result = OnePair(new DpoLossOptions(Beta: 0.5f, LossType: DpoLossType.Hinge));
        Near(0.5, result.Loss);
        Near(-0.5, result.DPolicyChosen[0]);
        Near(0.5, result.DPolicyRejected[0]);
        // β = 2: z = 2 ≥ 1 → loss 0, no gradient
        var past = OnePair(new DpoLossOptions(Beta: 2f, LossType: DpoLossType.Hinge));
        Near(0, past.Loss);
        Near(0, past.DPolicyChosen[0]);
    }

    [Fact]
    public void IpoMatchesHandComputedValues()
    {
        // β = 0.5: (h − 1/(2β))² = (1 − 1)² = 0, the IPO minimum, gradient 0
        var atMinimum = OnePair(new DpoLossOptions(Beta: 0.5f, LossType: DpoLossType.Ipo));
        Near(0, atMinimum.Loss);
        Near(0, atMinimum.DPolicyChosen[0]);
        // β = 0.25: (1 − 2)² = 1, ∂/∂π_c = 2·(1 − 2) = −2
        var result = OnePair(new DpoLossOptions(Beta: 0.25f, LossType: DpoLossType.Ipo));
        Near(1, result.Loss);
        Near(-2, result.DPolicyChosen[0]);
        Near(2, result.DPolicyRejected[0]);
    }

    [Fact]
    public void ZeroSmoothingRobustAndSigmoidAgreeAndSigmoidIsLnTwoAtZero()
    {
        var rng = new Rng(4);
        var pc = FiniteDifference.RandomArray(rng, 5, 3);
        var pr = FiniteDifference.RandomArray(rng, 5, 3);
        var rc = FiniteDifference.RandomArray(rng, 5, 3);
        var rr = FiniteDifference.RandomArray(rng, 5, 3);
        var sigmoid = DpoLosses.Compute(pc, pr, rc, rr, new DpoLossOptions(Beta: 0.3f));
        var robust = DpoLosses.Compute(pc, pr, rc, rr, new DpoLossOptions(Beta: 0.3f, LossType: DpoLossType.Robust));
        Near(sigmoid.Loss, robust.Loss, 1e-12);
        Assert.Equal(sigmoid.DPolicyChosen, robust.DPolicyChosen);
        // Policy = reference → h = 0 → loss ln 2 for every pair
        Near(Math.Log(2), DpoLosses.Compute(rc, rr, rc, rr, new DpoLossOptions()).Loss);
    }

    [Fact]
    public void ReferenceFreeEqualsZeroReferenceLogps()
    {
        var rng = new Rng(8);
        var pc = FiniteDifference.RandomArray(rng, 4, 3);
        var pr = FiniteDifference.RandomArray(rng, 4, 3);
        var zeros = new float[4];
        foreach (var type in Enum.GetValues<DpoLossType>())
        {
            var free = DpoLosses.Compute(pc, pr, [], [], new DpoLossOptions(Beta: 0.2f, LossType: type, ReferenceFree: true));
            var zero = DpoLosses.Compute(pc, pr, zeros, zeros, new DpoLossOptions(Beta: 0.2f, LossType: type));
            Near(zero.Loss, free.Loss, 1e-12);
            Assert.Equal(zero.DPolicyChosen, free.DPolicyChosen);
            Assert.Equal(zero.DPolicyRejected, free.DPolicyRejected);
            Assert.Equal(zero.Metrics, free.Metrics);
        }
    }

    [Fact]
    public void RpoAddsTokenMeanNllOfChosen()
    {
        // α = 0.5, 4 chosen tokens: NLL = −(−1)/4 = 0.25 → + 0.125; ∂/∂π_c gains −α/4 = −0.125
        var result = OnePair(new DpoLossOptions(Beta: 0.5f, RpoAlpha: 0.5f), [4]);
        Near(0.4740770 + 0.125, result.Loss);
        Near(-0.1887703 - 0.125, result.DPolicyChosen[0]);
        Near(0.1887703, result.DPolicyRejected[0]);
        Near(0.25, result.Metrics["nll_loss"]);
        Assert.Throws<ArgumentException>(() => OnePair(new DpoLossOptions(RpoAlpha: 0.5f)));
    }

    [Theory]
    [InlineData(DpoLossType.Sigmoid, 0.0f, null)]
    [InlineData(DpoLossType.Sigmoid, 0.2f, 1.0f)]
    [InlineData(DpoLossType.Robust, 0.3f, null)]
    [InlineData(DpoLossType.Ipo, 0.0f, null)]
    [InlineData(DpoLossType.Hinge, 0.0f, 0.5f)]
    public void GradientsMatchFiniteDifferences(DpoLossType type, float smoothing, float? rpo)
    {
        var rng = new Rng(17);
        var pc = FiniteDifference.RandomArray(rng, 6, 2);
        var pr = FiniteDifference.RandomArray(rng, 6, 2);
        var rc = FiniteDifference.RandomArray(rng, 6, 2);
        var rr = FiniteDifference.RandomArray(rng, 6, 2);
        int[] counts = [3, 5, 2, 7, 1, 4];
        var options = new DpoLossOptions(Beta: 0.4f, LossType: type, LabelSmoothing: smoothing, RpoAlpha: rpo);
        if (type == DpoLossType.Hinge) // keep every pair away from the hinge so the finite difference is smooth
            for (int i = 0; i < 6; i++)
            {
                double z = 0.4 * ((pc[i] - rc[i]) - (pr[i] - rr[i]));
                if (Math.Abs(1 - z) < 0.05) pc[i] += 0.5f;
            }
        var result = DpoLosses.Compute(pc, pr, rc, rr, options, counts);
        FiniteDifference.Check("dChosen", pc, result.DPolicyChosen, () => DpoLosses.Compute(pc, pr, rc, rr, options, counts).Loss, step: 1e-3);
        FiniteDifference.Check("dRejected", pr, result.DPolicyRejected, () => DpoLosses.Compute(pc, pr, rc, rr, options, counts).Loss, step: 1e-3);
    }

    [Fact]
    public void LargeLogRatiosStayFinite()
    {
        var win = DpoLosses.Compute([0f], [-1e5f], [0f], [0f], new DpoLossOptions(Beta: 1f));
        Near(0, win.Loss);
        var lose = DpoLosses.Compute([-1e5f], [0f], [0f], [0f], new DpoLossOptions(Beta: 1f, LabelSmoothing: 0.1f));
        Assert.True(double.IsFinite(lose.Loss));
        Near(0.9e5, lose.Loss, 1e-2); // 0.9·1e5 + 0.1·(−log σ(1e5) ≈ 0)
        Assert.All(lose.DPolicyChosen, g => Assert.True(float.IsFinite(g)));
    }

    [Fact]
    public void ValidationQuotesTheBadValues()
    {
        Assert.Contains("0", Assert.Throws<ArgumentOutOfRangeException>(() => OnePair(new DpoLossOptions(Beta: 0f))).Message);
        Assert.Contains("-1", Assert.Throws<ArgumentOutOfRangeException>(() => OnePair(new DpoLossOptions(Beta: -1f))).Message);
        Assert.Contains("0.5", Assert.Throws<ArgumentOutOfRangeException>(() => OnePair(new DpoLossOptions(LabelSmoothing: 0.5f))).Message);
        Assert.Contains("-0.1", Assert.Throws<ArgumentOutOfRangeException>(() => OnePair(new DpoLossOptions(LabelSmoothing: -0.1f))).Message);
        var e = Assert.Throws<ArgumentException>(() =>
            DpoLosses.Compute([-1f, -1f], [-2f, float.NegativeInfinity], [0f, 0f], [0f, 0f], new DpoLossOptions()));
        Assert.Contains("Pair 1", e.Message);
        var r = Assert.Throws<ArgumentException>(() =>
            DpoLosses.Compute([-1f], [-2f], [float.NaN], [0f], new DpoLossOptions()));
        Assert.Contains("Pair 0", r.Message);
        Assert.Throws<ArgumentException>(() => DpoLosses.Compute([-1f], [-2f], [], [], new DpoLossOptions()));
    }
}
