// Loop settings some trainers need beside the task (the CLI's commands and the public trainers pass the same).
namespace Rlhf.Training;

/// <summary>Loop settings some trainers need (PPO: its KL coefficient in checkpoints, TRL's "lr" name).</summary>
internal sealed record LoopHooks(
    Func<IReadOnlyDictionary<string, double>>? ExtraState = null,
    Action<IReadOnlyDictionary<string, double>>? RestoreExtraState = null,
    string LearningRateMetric = "learning_rate");
