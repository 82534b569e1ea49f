// Options every trainer shares, with transformers' TrainingArguments names (kebab-cased on the command line).
using Rlhf.Tensors;

namespace Rlhf.Training;

/// <summary>
/// Settings every trainer shares, with transformers' TrainingArguments names and defaults (the CLI's options are the
/// same names, kebab-cased). Ranges are checked by <see cref="Validate"/> and by the trainers' constructors.
/// </summary>
public sealed record TrainingArguments
{
    /// <summary>Folder the final model, checkpoints and metrics.jsonl are written to. Default "output".</summary>
    public string OutputDir { get; init; } = "output";
    /// <summary>Replace a model already in <see cref="OutputDir"/> (otherwise training refuses to start). Default false.</summary>
    public bool OverwriteOutputDir { get; init; }
    /// <summary>Passes over the training set (fractions allowed), &gt; 0. Default 3.</summary>
    public double NumTrainEpochs { get; init; } = 3;
    /// <summary>When positive, overrides <see cref="NumTrainEpochs"/>.</summary>
    public int MaxSteps { get; init; } = -1;
    /// <summary>Examples per micro-batch, &gt; 0. Default 8.</summary>
    public int PerDeviceTrainBatchSize { get; init; } = 8;
    /// <summary>Examples per evaluation batch, &gt; 0. Default 8.</summary>
    public int PerDeviceEvalBatchSize { get; init; } = 8;
    /// <summary>Micro-batches summed into one optimizer step, &gt; 0. Default 1.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Peak AdamW learning rate, finite and ≥ 0. Default 5e-5.</summary>
    public float LearningRate { get; init; } = 5e-5f;
    /// <summary>AdamW decoupled weight decay (not applied to biases and norms). Default 0.</summary>
    public float WeightDecay { get; init; }
    /// <summary>AdamW β1. Default 0.9.</summary>
    public float AdamBeta1 { get; init; } = 0.9f;
    /// <summary>AdamW β2. Default 0.999.</summary>
    public float AdamBeta2 { get; init; } = 0.999f;
    /// <summary>AdamW ε. Default 1e-8.</summary>
    public float AdamEpsilon { get; init; } = 1e-8f;
    /// <summary>Clip the global gradient L2 norm to this, ≥ 0 (0: no clipping). Default 1.</summary>
    public float MaxGradNorm { get; init; } = 1f;
    /// <summary>Learning-rate schedule after warmup: "linear", "cosine" or "constant" (also "constant_with_warmup"). Default "linear".</summary>
    public string LrSchedulerType { get; init; } = "linear";
    /// <summary>Share of the steps spent warming up linearly from 0, in [0, 1]. Default 0.</summary>
    public double WarmupRatio { get; init; }
    /// <summary>Warmup steps, ≥ 0; wins over <see cref="WarmupRatio"/> when positive. Default 0.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>Average and log the metrics every N optimizer steps, &gt; 0. Default 10.</summary>
    public int LoggingSteps { get; init; } = 10;
    /// <summary>Evaluate every N optimizer steps (0: only at the end, when there is eval data).</summary>
    public int EvalSteps { get; init; }
    /// <summary>Checkpoint every N optimizer steps (0: none).</summary>
    public int SaveSteps { get; init; } = 500;
    /// <summary>Checkpoints kept (oldest deleted first); 0 keeps all.</summary>
    public int SaveTotalLimit { get; init; } = 2;
    /// <summary>Seed of the shuffling (and of anything random in the run). Default 42.</summary>
    public ulong Seed { get; init; } = 42;
    /// <summary>A checkpoint folder (or "latest") to resume from; null: start fresh.</summary>
    public string? ResumeFromCheckpoint { get; init; }
    /// <summary>Stop as diverged after this many non-finite steps in a row (0: never stop, only skip).</summary>
    public int MaxNonFiniteSteps { get; init; } = 10;
    /// <summary>Stop as diverged when a step's loss exceeds this multiple of the first step's (0: off).</summary>
    public double DivergenceLossRatio { get; init; } = 100;

    /// <summary>Checks every setting against its range.</summary>
    /// <exception cref="ArgumentException">Lists every setting out of range, with its range and value.</exception>
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

    internal AdamWOptions AdamW => new(AdamBeta1, AdamBeta2, AdamEpsilon, WeightDecay);

    /// <summary>Warmup steps for a run of <paramref name="totalSteps"/> (warmup_steps wins over warmup_ratio).</summary>
    internal int ResolveWarmup(int totalSteps) => WarmupSteps > 0 ? WarmupSteps : (int)Math.Ceiling(WarmupRatio * totalSteps);
}
