// GRPO and RLOO settings with TRL's names and defaults (GRPOConfig, RLOOConfig). One generation batch holds
// per_device_train_batch_size × gradient_accumulation_steps completions: that many ÷ num_generations prompts, each
// sampled num_generations times, then num_iterations optimizer updates over it (TRL's steps_per_generation =
// gradient_accumulation_steps).
namespace Rlhf.Training.Grpo;

/// <summary>How the group baseline is formed.</summary>
public enum GroupEstimator
{
    /// <summary>GRPO (Shao et al. 2024): A = (r − mean(group)) / (std + 1e-4), the std as <see cref="RewardScaling"/> says.</summary>
    GroupRelative,
    /// <summary>RLOO (Ahmadian et al. 2024): A = r − mean of the other k − 1 rewards of the group.</summary>
    LeaveOneOut,
}

/// <summary>GRPO's scale_rewards: the standard deviation advantages are divided by.</summary>
public enum RewardScaling
{
    /// <summary>Each group's own standard deviation (Shao et al. 2024).</summary>
    Group,
    /// <summary>The generation batch's standard deviation.</summary>
    Batch,
    /// <summary>No scaling: A = r − mean (Dr. GRPO).</summary>
    None,
}

/// <summary>GRPO's loss_type: how per-token losses are aggregated (TRL GRPOTrainer._compute_loss).</summary>
public enum GrpoLossType
{
    /// <summary>Mean over each sequence's tokens, then over sequences (Shao et al. 2024).</summary>
    Grpo,
    /// <summary>Sum over tokens ÷ (sequences × max_completion_length) (Liu et al. 2025, Dr. GRPO).</summary>
    DrGrpo,
    /// <summary>Sum over tokens ÷ completion tokens of the whole generation batch (Yu et al. 2025, DAPO).</summary>
    Dapo,
    /// <summary>Sum over tokens ÷ completion tokens of the micro-batch.</summary>
    Bnpo,
}

/// <summary>
/// GRPO and RLOO settings, with TRL's GRPOConfig / RLOOConfig names (the options of <c>rlhf grpo</c> and <c>rlhf rloo</c>);
/// start from <see cref="Grpo"/> or <see cref="Rloo"/>. The completions per micro-batch and the micro-batches per update
/// come from the trainer's <see cref="TrainingArguments"/> (per_device_train_batch_size, gradient_accumulation_steps),
/// as on the command line.
/// </summary>
public sealed record GrpoConfig
{
    /// <summary>The group baseline: <see cref="GroupEstimator.GroupRelative"/> (GRPO, the default) or <see cref="GroupEstimator.LeaveOneOut"/> (RLOO).</summary>
    public GroupEstimator Estimator { get; init; } = GroupEstimator.GroupRelative;

    /// <summary>Completions sampled per prompt (G; RLOO's k), ≥ 2. Default 8 (RLOO 2).</summary>
    public int NumGenerations { get; init; } = 8;
    /// <summary>Completions per forward/backward pass (TRL per_device_train_batch_size).</summary>
    internal int PerDeviceTrainBatchSize { get; init; } = 8;
    /// <summary>Micro-batches per optimizer update; one generation batch feeds exactly one update per iteration.</summary>
    internal int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Optimizer updates per generation batch (μ) &gt; 0, with importance ratios against the sampling policy. Default 1.</summary>
    public int NumIterations { get; init; } = 1;

    /// <summary>Completion length limit in tokens, &gt; 0 and less than the policy's context. Default 256 (RLOO 512).</summary>
    public int MaxCompletionLength { get; init; } = 256;
    /// <summary>Sampling temperature &gt; 0; log-probs of the loss use the same (PITFALLS #5). No top-k/top-p truncation. Default 1.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>KL coefficient ≥ 0. GRPO: 0 needs no reference; &gt; 0 adds β·k3 per token. RLOO: β·Σ(log π_old − log π_ref) off the reward. Default 0 (RLOO 0.05).</summary>
    public double Beta { get; init; }
    /// <summary>Lower (and default upper) clip range of the importance ratio, in (0, 1). Default 0.2.</summary>
    public double Epsilon { get; init; } = 0.2;
    /// <summary>Upper clip bound ε_high &gt; 0 (DAPO's clip-higher recommends 0.28); null = <see cref="Epsilon"/>.</summary>
    public double? EpsilonHigh { get; init; }

    /// <summary>GRPO: the standard deviation advantages are divided by. Default <see cref="RewardScaling.Group"/>.</summary>
    public RewardScaling ScaleRewards { get; init; } = RewardScaling.Group;
    /// <summary>GRPO: how per-token losses are aggregated. Default <see cref="GrpoLossType.Dapo"/>.</summary>
    public GrpoLossType LossType { get; init; } = GrpoLossType.Dapo;
    /// <summary>Completions that hit max_completion_length without EOS take no part in the loss (DAPO). Default false.</summary>
    public bool MaskTruncatedCompletions { get; init; }
    /// <summary>RLOO: whiten the advantages over the generation batch. Default false.</summary>
    public bool NormalizeAdvantages { get; init; }

    /// <summary>Weights of the reward functions, in order; null = all 1.</summary>
    internal IReadOnlyList<double>? RewardWeights { get; init; }

    /// <summary>TRL GRPOConfig's defaults (lr 1e-6 is the trainer's).</summary>
    public static GrpoConfig Grpo { get; } = new();

    /// <summary>TRL RLOOConfig's defaults: k = 2, β = 0.05, sequence-level clipped ratio.</summary>
    public static GrpoConfig Rloo { get; } = new() { Estimator = GroupEstimator.LeaveOneOut, NumGenerations = 2, Beta = 0.05, MaxCompletionLength = 512 };

    internal double ResolvedEpsilonHigh => EpsilonHigh ?? Epsilon;

    /// <summary>Completions per generation batch.</summary>
    internal int GenerationBatchSize => PerDeviceTrainBatchSize * GradientAccumulationSteps;

    /// <summary>Distinct prompts per generation batch.</summary>
    internal int PromptsPerGeneration => GenerationBatchSize / NumGenerations;

    /// <summary>
    /// This configuration with the micro-batch and accumulation taken from <paramref name="arguments"/> (rlhf grpo's
    /// meaning of them), and the arguments the loop runs with: one generation batch of prompts per step, the task
    /// splitting its completions itself.
    /// </summary>
    internal (GrpoConfig Config, TrainingArguments Loop) Bind(TrainingArguments arguments)
    {
        var config = this with { PerDeviceTrainBatchSize = arguments.PerDeviceTrainBatchSize, GradientAccumulationSteps = arguments.GradientAccumulationSteps };
        return (config, arguments with { PerDeviceTrainBatchSize = Math.Max(1, config.PromptsPerGeneration), GradientAccumulationSteps = 1 });
    }

    /// <summary>Checks the settings against their ranges.</summary>
    /// <exception cref="ArgumentException">A setting is out of range (the message names it, its range and value).</exception>
    public void Validate()
    {
        var problems = new List<string>();
        string name = Estimator == GroupEstimator.LeaveOneOut ? "RLOO" : "GRPO";
        if (NumGenerations < 2) problems.Add($"num_generations must be ≥ 2 to form a baseline (got {NumGenerations})");
        if (PerDeviceTrainBatchSize <= 0 || GradientAccumulationSteps <= 0 || NumIterations <= 0)
            problems.Add($"per_device_train_batch_size ({PerDeviceTrainBatchSize}), gradient_accumulation_steps ({GradientAccumulationSteps}) and num_iterations ({NumIterations}) must be > 0");
        else if (NumGenerations >= 2 && GenerationBatchSize % NumGenerations != 0)
            problems.Add($"per_device_train_batch_size × gradient_accumulation_steps ({GenerationBatchSize}) must be a multiple of num_generations ({NumGenerations})");
        if (MaxCompletionLength <= 0) problems.Add($"max_completion_length must be > 0 (got {MaxCompletionLength})");
        if (!(Temperature > 0)) problems.Add($"temperature must be > 0 (got {Temperature})");
        if (!(Beta >= 0) || double.IsInfinity(Beta)) problems.Add($"beta must be ≥ 0 (got {Beta})");
        if (!(Epsilon is > 0 and < 1)) problems.Add($"epsilon must lie in (0, 1) (got {Epsilon})");
        if (EpsilonHigh is double high && !(high > 0) || double.IsInfinity(ResolvedEpsilonHigh)) problems.Add($"epsilon_high must be > 0 (got {EpsilonHigh})");
        if (RewardWeights is { } weights && weights.Any(w => !double.IsFinite(w))) problems.Add("reward_weights must be finite numbers");
        if (problems.Count > 0) throw new ArgumentException($"Invalid {name} configuration: " + string.Join("; ", problems) + ".");
    }
}
