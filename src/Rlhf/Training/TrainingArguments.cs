// Options every trainer shares, with transformers' TrainingArguments names (kebab-cased on the command line).
using Rlhf.Tensors;

namespace Rlhf.Training;

internal sealed record TrainingArguments
{
    public string OutputDir { get; init; } = "output";
    public bool OverwriteOutputDir { get; init; }
    public double NumTrainEpochs { get; init; } = 3;
    /// <summary>When positive, overrides <see cref="NumTrainEpochs"/>.</summary>
    public int MaxSteps { get; init; } = -1;
    public int PerDeviceTrainBatchSize { get; init; } = 8;
    public int PerDeviceEvalBatchSize { get; init; } = 8;
    public int GradientAccumulationSteps { get; init; } = 1;
    public float LearningRate { get; init; } = 5e-5f;
    public float WeightDecay { get; init; }
    public float AdamBeta1 { get; init; } = 0.9f;
    public float AdamBeta2 { get; init; } = 0.999f;
    public float AdamEpsilon { get; init; } = 1e-8f;
    public float MaxGradNorm { get; init; } = 1f;
    public string LrSchedulerType { get; init; } = "linear";
    public double WarmupRatio { get; init; }
    public int WarmupSteps { get; init; }
    public int LoggingSteps { get; init; } = 10;
    /// <summary>Evaluate every N optimizer steps (0: only at the end, when there is eval data).</summary>
    public int EvalSteps { get; init; }
    /// <summary>Checkpoint every N optimizer steps (0: none).</summary>
    public int SaveSteps { get; init; } = 500;
    /// <summary>Checkpoints kept (oldest deleted first); 0 keeps all.</summary>
    public int SaveTotalLimit { get; init; } = 2;
    public ulong Seed { get; init; } = 42;
    public string? ResumeFromCheckpoint { get; init; }
    /// <summary>Stop as diverged after this many non-finite steps in a row (0: never stop, only skip).</summary>
    public int MaxNonFiniteSteps { get; init; } = 10;
    /// <summary>Stop as diverged when a step's loss exceeds this multiple of the first step's (0: off).</summary>
    public double DivergenceLossRatio { get; init; } = 100;

    public void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(OutputDir)) problems.Add("output_dir is empty");
        if (MaxSteps <= 0 && !(NumTrainEpochs > 0)) problems.Add($"num_train_epochs must be > 0 when max_steps is not set (got {NumTrainEpochs})");
        if (PerDeviceTrainBatchSize <= 0) problems.Add($"per_device_train_batch_size must be > 0 (got {PerDeviceTrainBatchSize})");
        if (PerDeviceEvalBatchSize <= 0) problems.Add($"per_device_eval_batch_size must be > 0 (got {PerDeviceEvalBatchSize})");
        if (GradientAccumulationSteps <= 0) problems.Add($"gradient_accumulation_steps must be > 0 (got {GradientAccumulationSteps})");
        if (!(LearningRate >= 0) || float.IsInfinity(LearningRate)) problems.Add($"learning_rate must be a finite number ≥ 0 (got {LearningRate})");
        if (!(WarmupRatio >= 0 && WarmupRatio <= 1)) problems.Add($"warmup_ratio must lie in [0, 1] (got {WarmupRatio})");
        if (WarmupSteps < 0) problems.Add($"warmup_steps must be ≥ 0 (got {WarmupSteps})");
        if (LoggingSteps <= 0) problems.Add($"logging_steps must be > 0 (got {LoggingSteps})");
        if (EvalSteps < 0 || SaveSteps < 0 || SaveTotalLimit < 0) problems.Add("eval_steps, save_steps and save_total_limit must be ≥ 0");
        if (MaxNonFiniteSteps < 0) problems.Add($"max_nonfinite_steps must be ≥ 0 (got {MaxNonFiniteSteps})");
        if (!(DivergenceLossRatio == 0 || DivergenceLossRatio > 1) || double.IsInfinity(DivergenceLossRatio))
            problems.Add($"divergence_loss_ratio must be 0 (off) or a finite number > 1 (got {DivergenceLossRatio})");
        if (MaxGradNorm < 0) problems.Add($"max_grad_norm must be ≥ 0 (got {MaxGradNorm})");
        try { LearningRateSchedule.ParseKind(LrSchedulerType); }
        catch (ArgumentException e) { problems.Add(e.Message); }
        if (problems.Count > 0) throw new ArgumentException("Invalid training arguments: " + string.Join("; ", problems) + ".");
    }

    public AdamWOptions AdamW => new(AdamBeta1, AdamBeta2, AdamEpsilon, WeightDecay);

    /// <summary>Warmup steps for a run of <paramref name="totalSteps"/> (warmup_steps wins over warmup_ratio).</summary>
    public int ResolveWarmup(int totalSteps) => WarmupSteps > 0 ? WarmupSteps : (int)Math.Ceiling(WarmupRatio * totalSteps);
}
