// The shared loop's divergence policy: non-finite steps are skipped and counted, but too many in a row, or a loss far
// above where the run started, stop the run so that diverged weights are never saved as a result.
using System.Globalization;

namespace Rlhf.Training;

/// <summary>
/// Watches each optimizer step. A step is bad when its loss, another metric or its gradient norm is NaN or ±Inf (the
/// loop skips its update). The run has diverged when <c>maxNonFiniteInARow</c> steps in a row are bad, or when a step's
/// "loss" exceeds <c>lossRatio</c> × the first step's (only for a positive first loss; tasks without "loss", such as
/// PPO, use the first rule only). 0 turns a rule off. Its state lives in <see cref="TrainerState"/>, so a resumed run
/// decides as the uninterrupted one would.
/// </summary>
internal sealed class DivergenceMonitor(int maxNonFiniteInARow, double lossRatio)
{
    /// <summary>Why the run diverged, and the first step whose loss showed it.</summary>
    public sealed record Verdict(string Reason, int FirstBadStep);

    private int inARow, firstBadStep;
    private double? initialLoss;

    public void Restore(TrainerState state)
    {
        inARow = state.NonFiniteInARow;
        firstBadStep = state.GlobalStep - inARow + 1;
        initialLoss = state.InitialLoss;
    }

    /// <summary>Records the step just taken (<see cref="TrainerState.GlobalStep"/> already counts it); a verdict when the run diverged.</summary>
    public Verdict? Observe(TrainerState state, bool finite, IReadOnlyDictionary<string, double> metrics)
    {
        int step = state.GlobalStep;
        if (!finite)
        {
            if (inARow == 0) firstBadStep = step;
            inARow++;
            state.NonFiniteInARow = inARow;
            if (maxNonFiniteInARow > 0 && inARow >= maxNonFiniteInARow)
                return new Verdict($"{inARow} steps in a row had a non-finite loss or gradient (--max-nonfinite-steps {maxNonFiniteInARow})", firstBadStep);
            return null;
        }
        inARow = 0;
        state.NonFiniteInARow = 0;
        if (!metrics.TryGetValue("loss", out double loss)) return null;
        initialLoss ??= loss;
        state.InitialLoss = initialLoss;
        if (lossRatio > 0 && initialLoss > 0 && loss > lossRatio * initialLoss)
            return new Verdict(string.Create(CultureInfo.InvariantCulture,
                $"the loss rose to {loss:G4}, over {lossRatio:G4}× its first value {initialLoss:G4} (--divergence-loss-ratio)"), step);
        return null;
    }
}

/// <summary>Training stopped because it diverged; no diverged weights were saved.</summary>
/// <summary>
/// Training stopped because the loss diverged (non-finite steps in a row, or a loss far above the first step's).
/// The message says which step, why, and what the output folder now holds.
/// </summary>
/// <param name="step">The optimizer step at which the run stopped.</param>
/// <param name="reason">Why the run counts as diverged.</param>
/// <param name="outputDir">The run's output folder.</param>
/// <param name="lastGoodCheckpoint">The checkpoint the output folder's model now comes from; null: none.</param>
public sealed class TrainingDivergedException(int step, string reason, string outputDir, string? lastGoodCheckpoint)
    : Exception($"training diverged at step {step}: {reason}; " + (lastGoodCheckpoint is null
        ? "no model was saved (no checkpoint predates the divergence); lower --learning-rate and rerun"
        : $"{outputDir} holds the last good model, from {Path.GetFileName(lastGoodCheckpoint)}; lower --learning-rate and resume with --resume-from-checkpoint latest"))
{
    /// <summary>The optimizer step at which the run stopped.</summary>
    public int Step { get; } = step;

    /// <summary>Why the run counts as diverged (e.g. the non-finite losses, or the loss ratio).</summary>
    public string Reason { get; } = reason;

    /// <summary>The checkpoint whose model the output folder now holds, or null when nothing was saved.</summary>
    public string? LastGoodCheckpoint { get; } = lastGoodCheckpoint;
}
