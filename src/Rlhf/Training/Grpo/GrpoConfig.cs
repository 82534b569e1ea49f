// GRPO and RLOO settings with TRL's names and defaults (GRPOConfig, RLOOConfig). One generation batch holds
// per_device_train_batch_size × gradient_accumulation_steps completions: that many ÷ num_generations prompts, each
// sampled num_generations times, then num_iterations optimizer updates over it (TRL's steps_per_generation =
// gradient_accumulation_steps).
namespace Rlhf.Training.Grpo;

/// <summary>How the group baseline is formed.</summary>
internal enum GroupEstimator
{
    /// <summary>GRPO (Shao et al. 2024): A = (r − mean(group)) / (std + 1e-4), the std as <see cref="RewardScaling"/> says.</summary>
    GroupRelative,
    /// <summary>RLOO (Ahmadian et al. 2024): A = r − mean of the other k − 1 rewards of the group.</summary>
    LeaveOneOut,
}

/// <summary>GRPO's scale_rewards: the standard deviation advantages are divided by.</summary>
internal enum RewardScaling { Group, Batch, None }

/// <summary>GRPO's loss_type: how per-token losses are aggregated (TRL GRPOTrainer._compute_loss).</summary>
internal enum GrpoLossType
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

internal sealed record GrpoConfig
{
    public GroupEstimator Estimator { get; init; } = GroupEstimator.GroupRelative;

    /// <summary>Completions sampled per prompt (G; RLOO's k).</summary>
    public int NumGenerations { get; init; } = 8;
    /// <summary>Completions per forward/backward pass (TRL per_device_train_batch_size).</summary>
    public int PerDeviceTrainBatchSize { get; init; } = 8;
    /// <summary>Micro-batches per optimizer update; one generation batch feeds exactly one update per iteration.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Optimizer updates per generation batch (μ), with importance ratios against the sampling policy.</summary>
    public int NumIterations { get; init; } = 1;

    public int MaxCompletionLength { get; init; } = 256;
    /// <summary>Sampling temperature; log-probs of the loss use the same (PITFALLS #5). No top-k/top-p truncation.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>KL coefficient. GRPO: 0 loads no reference; > 0 adds β·k3 per token. RLOO: β·Σ(log π_old − log π_ref) off the reward.</summary>
    public double Beta { get; init; }
    public double Epsilon { get; init; } = 0.2;
    /// <summary>Upper clip bound ε_high (DAPO's clip-higher); null = <see cref="Epsilon"/>.</summary>
    public double? EpsilonHigh { get; init; }

    public RewardScaling ScaleRewards { get; init; } = RewardScaling.Group;
    public GrpoLossType LossType { get; init; } = GrpoLossType.Dapo;
    /// <summary>Completions that hit max_completion_length without EOS take no part in the loss (DAPO).</summary>
    public bool MaskTruncatedCompletions { get; init; }
    /// <summary>RLOO: whiten the advantages over the generation batch.</summary>
    public bool NormalizeAdvantages { get; init; }

    /// <summary>Weights of the reward functions, in order; null = all 1.</summary>
    public IReadOnlyList<double>? RewardWeights { get; init; }

    /// <summary>TRL GRPOConfig's defaults (lr 1e-6 is the trainer's).</summary>
    public static GrpoConfig Grpo { get; } = new();

    /// <summary>TRL RLOOConfig's defaults: k = 2, β = 0.05, sequence-level clipped ratio.</summary>
    public static GrpoConfig Rloo { get; } = new() { Estimator = GroupEstimator.LeaveOneOut, NumGenerations = 2, Beta = 0.05, MaxCompletionLength = 512 };

    public double ResolvedEpsilonHigh => EpsilonHigh ?? Epsilon;

    /// <summary>Completions per generation batch.</summary>
    public int GenerationBatchSize => PerDeviceTrainBatchSize * GradientAccumulationSteps;

    /// <summary>Distinct prompts per generation batch.</summary>
    public int PromptsPerGeneration => GenerationBatchSize / NumGenerations;

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
