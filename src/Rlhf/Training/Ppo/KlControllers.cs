// KL-coefficient controllers for the KL-penalised PPO reward (fixed β, Ziegler et al. 2019 proportional, the InstructGPT notes' ×2/×½ rule).
namespace Rlhf.Training.Ppo;

/// <summary>Holds β and updates it from the measured KL of a rollout batch. <see cref="Value"/> is the state to checkpoint.</summary>
internal interface IKlController
{
    double Value { get; }

    void Update(double currentKl, int nSteps);

    /// <summary>Sets β back to a checkpointed value.</summary>
    void Restore(double value);
}

/// <summary>TRL FixedKLController: β never changes.</summary>
internal sealed class FixedKlController : IKlController
{
    public FixedKlController(double value)
    {
        KlControllerChecks.Coefficient(value, nameof(value));
        Value = value;
    }

    public double Value { get; private set; }

    public void Update(double currentKl, int nSteps) => KlControllerChecks.Kl(currentKl, nSteps);

    public void Restore(double value) => Value = KlControllerChecks.Coefficient(value, nameof(value));
}

/// <summary>
/// TRL AdaptiveKLController (Ziegler et al. 2019, eq. 2): e = clip(KL/target − 1, −0.2, 0.2), β ← β·(1 + e·n_steps/horizon).
/// </summary>
internal sealed class ZieglerKlController : IKlController
{
    public ZieglerKlController(double initial, double target, double horizon)
    {
        KlControllerChecks.Coefficient(initial, nameof(initial));
        if (!double.IsFinite(target) || target <= 0) throw new ArgumentOutOfRangeException(nameof(target), target, $"KL target must be > 0, got {target}.");
        if (!double.IsFinite(horizon) || horizon <= 0) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, $"KL horizon must be > 0, got {horizon}.");
        Value = initial;
        Target = target;
        Horizon = horizon;
    }

    public double Value { get; private set; }
    public double Target { get; }
    public double Horizon { get; }

    public void Update(double currentKl, int nSteps)
    {
        KlControllerChecks.Kl(currentKl, nSteps);
        double error = Math.Clamp(currentKl / Target - 1, -0.2, 0.2);
        Value *= 1 + error * nSteps / Horizon;
    }

    public void Restore(double value) => Value = KlControllerChecks.Coefficient(value, nameof(value));
}

/// <summary>
/// Seed 004 (PPO adaptive KL penalty, Schulman et al. 2017 §4): β ← 2β if KL &gt; 1.5·target, β ← β/2 if KL &lt; target/1.5,
/// otherwise unchanged. <c>nSteps</c> is ignored.
/// </summary>
internal sealed class SeedAdaptiveKlController : IKlController
{
    public SeedAdaptiveKlController(double initial, double target)
    {
        KlControllerChecks.Coefficient(initial, nameof(initial));
        if (!double.IsFinite(target) || target <= 0) throw new ArgumentOutOfRangeException(nameof(target), target, $"KL target must be > 0, got {target}.");
        Value = initial;
        Target = target;
    }

    public double Value { get; private set; }
    public double Target { get; }

    public void Update(double currentKl, int nSteps)
    {
        KlControllerChecks.Kl(currentKl, nSteps);
        if (currentKl > 1.5 * Target) Value *= 2;
        else if (currentKl < Target / 1.5) Value /= 2;
    }

    public void Restore(double value) => Value = KlControllerChecks.Coefficient(value, nameof(value));
}

internal static class KlControllerChecks
{
    public static double Coefficient(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0) throw new ArgumentOutOfRangeException(name, value, $"KL coefficient must be finite and ≥ 0, got {value}.");
        return value;
    }

    public static void Kl(double currentKl, int nSteps)
    {
        if (!double.IsFinite(currentKl)) throw new ArgumentOutOfRangeException(nameof(currentKl), currentKl, $"Measured KL must be finite, got {currentKl}.");
        if (nSteps < 0) throw new ArgumentOutOfRangeException(nameof(nSteps), nSteps, $"n_steps must be ≥ 0, got {nSteps}.");
    }
}
