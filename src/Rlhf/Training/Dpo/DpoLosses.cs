// DPO loss family over per-pair sequence log-probs (Rafailov et al. 2023; variants as in TRL's DPOTrainer):
// loss, gradients with respect to the policy's chosen/rejected log-probs, and TRL-named metrics.
namespace Rlhf.Training.Dpo;

/// <summary>TRL's <c>loss_type</c> values implemented here.</summary>
public enum DpoLossType
{
    /// <summary>−(1−ε)·log σ(βh) − ε·log σ(−βh) (DPO; ε &gt; 0 is "conservative DPO", Mitchell 2023).</summary>
    Sigmoid,
    /// <summary>(h − 1/(2β))² (IPO, Azar et al. 2023). TRL feeds IPO length-averaged log-probs; the caller decides.</summary>
    Ipo,
    /// <summary>max(0, 1 − βh) (SLiC, Zhao et al. 2023).</summary>
    Hinge,
    /// <summary>((1−ε)·(−log σ(βh)) + ε·log σ(−βh)) / (1 − 2ε) (robust DPO, Chowdhury et al. 2024).</summary>
    Robust,
}

/// <summary>Loss settings (defaults as TRL's DPOConfig: β 0.1, sigmoid, no smoothing, reference model on, no RPO).</summary>
/// <param name="Beta">β &gt; 0.</param>
/// <param name="LabelSmoothing">ε in [0, 0.5); used by Sigmoid and Robust, ignored by Ipo and Hinge.</param>
/// <param name="ReferenceFree">Treat the reference log-ratio as 0 (reference log-probs are then ignored and may be empty).</param>
/// <param name="RpoAlpha">When set, adds α·NLL of the chosen responses (RPO, Pang et al. 2024; TRL <c>rpo_alpha</c>).</param>
internal sealed record DpoLossOptions(
    float Beta = 0.1f,
    DpoLossType LossType = DpoLossType.Sigmoid,
    float LabelSmoothing = 0f,
    bool ReferenceFree = false,
    float? RpoAlpha = null)
{
    public void Validate()
    {
        if (!float.IsFinite(Beta) || Beta <= 0) throw new ArgumentOutOfRangeException(nameof(Beta), Beta, $"beta must be > 0, got {Beta}.");
        if (!float.IsFinite(LabelSmoothing) || LabelSmoothing < 0 || LabelSmoothing >= 0.5f)
            throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, $"label_smoothing must be in [0, 0.5), got {LabelSmoothing}.");
        if (!Enum.IsDefined(LossType)) throw new ArgumentOutOfRangeException(nameof(LossType), LossType, $"Unknown loss type {LossType}.");
        if (RpoAlpha is float a && (!float.IsFinite(a) || a < 0))
            throw new ArgumentOutOfRangeException(nameof(RpoAlpha), a, $"rpo_alpha must be finite and ≥ 0, got {a}.");
    }
}

/// <summary>Mean loss over pairs; gradients (already divided by the number of pairs, RPO term included in DPolicyChosen).</summary>
internal sealed record DpoLossResult(double Loss, float[] DPolicyChosen, float[] DPolicyRejected, IReadOnlyDictionary<string, double> Metrics);

internal static class DpoLosses
{
    /// <summary>
    /// h = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)) per pair (DPO eq. 7), then the loss of
    /// <see cref="DpoLossOptions.LossType"/>, averaged over pairs. With RPO: + α·(−Σ_i log π(y_w,i) / Σ_i n_i), TRL's
    /// token-level mean NLL of the chosen responses over the batch.
    /// Metrics: rewards/chosen = mean β(log π(y_w) − log π_ref(y_w)), rewards/rejected, rewards/margins,
    /// rewards/accuracies (chosen reward &gt; rejected reward; ties count as wrong), logps/chosen, logps/rejected, and
    /// nll_loss when RPO is on.
    /// </summary>
    /// <param name="policyChosen">Policy log-prob of each chosen response, summed over its response tokens.</param>
    /// <param name="referenceChosen">Reference log-probs; may be empty when <see cref="DpoLossOptions.ReferenceFree"/>.</param>
    /// <param name="chosenTokenCounts">Response token count per chosen sequence; required only with RPO.</param>
    public static DpoLossResult Compute(ReadOnlySpan<float> policyChosen, ReadOnlySpan<float> policyRejected,
        ReadOnlySpan<float> referenceChosen, ReadOnlySpan<float> referenceRejected, DpoLossOptions options,
        ReadOnlySpan<int> chosenTokenCounts = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int n = policyChosen.Length;
        if (n == 0) throw new ArgumentException("At least one preference pair is required.", nameof(policyChosen));
        LossMath.RequireSameLength(n, policyRejected.Length, nameof(policyRejected));
        if (!options.ReferenceFree)
        {
            LossMath.RequireSameLength(n, referenceChosen.Length, nameof(referenceChosen));
            LossMath.RequireSameLength(n, referenceRejected.Length, nameof(referenceRejected));
        }
        for (int i = 0; i < n; i++)
        {
            bool finite = float.IsFinite(policyChosen[i]) && float.IsFinite(policyRejected[i])
                && (options.ReferenceFree || (float.IsFinite(referenceChosen[i]) && float.IsFinite(referenceRejected[i])));
            if (!finite)
                throw new ArgumentException(
                    $"Pair {i} has a non-finite log-prob (policy chosen {policyChosen[i]}, policy rejected {policyRejected[i]}" +
                    (options.ReferenceFree ? ")." : $", reference chosen {referenceChosen[i]}, reference rejected {referenceRejected[i]})."),
                    nameof(policyChosen));
        }
        long tokenTotal = 0;
        if (options.RpoAlpha is not null)
        {
            LossMath.RequireSameLength(n, chosenTokenCounts.Length, nameof(chosenTokenCounts));
            for (int i = 0; i < n; i++)
            {
                if (chosenTokenCounts[i] <= 0)
                    throw new ArgumentException($"Pair {i} has {chosenTokenCounts[i]} chosen tokens; RPO needs at least 1.", nameof(chosenTokenCounts));
                tokenTotal += chosenTokenCounts[i];
            }
        }

        double beta = options.Beta, eps = options.LabelSmoothing;
        var dChosen = new float[n];
        var dRejected = new float[n];
        double loss = 0, rewardChosen = 0, rewardRejected = 0, logpChosen = 0, logpRejected = 0, chosenSum = 0;
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            double chosenRatio = (double)policyChosen[i] - (options.ReferenceFree ? 0 : referenceChosen[i]);
            double rejectedRatio = (double)policyRejected[i] - (options.ReferenceFree ? 0 : referenceRejected[i]);
            double h = chosenRatio - rejectedRatio;
            double z = beta * h;
            double pairLoss, dLossDh;
            switch (options.LossType)
            {
                case DpoLossType.Sigmoid:
                    // −(1−ε)·log σ(z) − ε·log σ(−z);  d/dz = −(1−ε)·σ(−z) + ε·σ(z)
                    pairLoss = -(1 - eps) * LossMath.LogSigmoid(z) - eps * LossMath.LogSigmoid(-z);
                    dLossDh = beta * (-(1 - eps) * LossMath.Sigmoid(-z) + eps * LossMath.Sigmoid(z));
                    break;
                case DpoLossType.Robust:
                    // ((1−ε)·(−log σ(z)) + ε·log σ(−z)) / (1−2ε);  d/dz = (−(1−ε)·σ(−z) − ε·σ(z)) / (1−2ε)
                    pairLoss = (-(1 - eps) * LossMath.LogSigmoid(z) + eps * LossMath.LogSigmoid(-z)) / (1 - 2 * eps);
                    dLossDh = beta * (-(1 - eps) * LossMath.Sigmoid(-z) - eps * LossMath.Sigmoid(z)) / (1 - 2 * eps);
                    break;
                case DpoLossType.Hinge:
                    // max(0, 1 − z); sub-gradient 0 at the hinge
                    pairLoss = Math.Max(0, 1 - z);
                    dLossDh = z < 1 ? -beta : 0;
                    break;
                default:
                    // IPO: (h − 1/(2β))²
                    double diff = h - 1 / (2 * beta);
                    pairLoss = diff * diff;
                    dLossDh = 2 * diff;
                    break;
            }
            loss += pairLoss;
            // ∂h/∂log π(y_w) = 1, ∂h/∂log π(y_l) = −1
            dChosen[i] = (float)(dLossDh / n);
            dRejected[i] = (float)(-dLossDh / n);

            double rc = beta * chosenRatio, rr = beta * rejectedRatio;
            rewardChosen += rc;
            rewardRejected += rr;
            if (rc > rr) correct++;
            logpChosen += policyChosen[i];
            logpRejected += policyRejected[i];
            chosenSum += policyChosen[i];
        }
        loss /= n;

        var metrics = new Dictionary<string, double>
        {
            ["rewards/chosen"] = rewardChosen / n,
            ["rewards/rejected"] = rewardRejected / n,
            ["rewards/margins"] = (rewardChosen - rewardRejected) / n,
            ["rewards/accuracies"] = (double)correct / n,
            ["logps/chosen"] = logpChosen / n,
            ["logps/rejected"] = logpRejected / n,
        };
        if (options.RpoAlpha is float alpha)
        {
            // NLL = −Σ log π(y_w) / Σ n_w;  ∂(α·NLL)/∂log π(y_w,i) = −α / Σ n_w
            double nll = -chosenSum / tokenTotal;
            loss += alpha * nll;
            metrics["nll_loss"] = nll;
            for (int i = 0; i < n; i++) dChosen[i] = (float)(dChosen[i] - (double)alpha / tokenTotal);
        }
        return new DpoLossResult(loss, dChosen, dRejected, metrics);
    }
}
