// Learning-rate schedules with linear warmup, as transformers' get_{constant,linear,cosine}_schedule_with_warmup.
namespace Rlhf.Tensors;

internal enum ScheduleKind { Constant, Linear, Cosine }

internal sealed record LearningRateSchedule(float PeakLearningRate, int WarmupSteps, int TotalSteps, ScheduleKind Kind = ScheduleKind.Linear)
{
    /// <summary>The learning rate for optimizer step <paramref name="step"/> (0-based).</summary>
    public float At(int step)
    {
        if (step < WarmupSteps) return PeakLearningRate * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        double factor = Kind switch
        {
            ScheduleKind.Constant => 1.0,
            ScheduleKind.Linear => Math.Max(0.0, 1.0 - progress),
            ScheduleKind.Cosine => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * progress))),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
        };
        return (float)(PeakLearningRate * factor);
    }

    public static ScheduleKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "constant" or "constant_with_warmup" => ScheduleKind.Constant,
        "linear" => ScheduleKind.Linear,
        "cosine" => ScheduleKind.Cosine,
        _ => throw new ArgumentException($"Unknown learning-rate schedule '{name}' (use constant, linear or cosine)."),
    };
}
