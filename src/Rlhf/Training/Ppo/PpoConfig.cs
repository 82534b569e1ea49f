// PPO settings with TRL's names; defaults from the textbook's PPOConfig (lr 1e-5, batch 16, mini-batch 8,
// gradient accumulation 2, untruncated sampling / 20 new tokens) and TRL's PPO defaults for the rest.
namespace Rlhf.Training.Ppo;

/// <summary>How β (the KL coefficient) changes between rollouts.</summary>
public enum KlControl
{
    /// <summary>β stays at init_kl_coef.</summary>
    Fixed,
    /// <summary>Ziegler et al. 2019: β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon) (TRL's adap_kl_ctrl).</summary>
    Ziegler,
    /// <summary>The textbook's InstructGPT notes (Schulman et al. 2017 §4): β×2 when KL &gt; 1.5·target, β×½ when KL &lt; target/1.5.</summary>
    Seed,
}

/// <summary>
/// PPO settings, with TRL's PPOConfig names (the options of <c>rlhf ppo</c>). The rollout batch and the mini-batches
/// per update come from the trainer's <see cref="TrainingArguments"/> (per_device_train_batch_size and
/// gradient_accumulation_steps), as on the command line.
/// </summary>
public sealed record PpoConfig
{
    /// <summary>Prompts sampled per rollout (TRL batch_size): the training arguments' per_device_train_batch_size.</summary>
    internal int BatchSize { get; init; } = 16;
    /// <summary>Rollouts per forward/backward pass (TRL mini_batch_size), &gt; 0. Default 8.</summary>
    public int MiniBatchSize { get; init; } = 8;
    /// <summary>Mini-batches whose gradients are summed before each optimizer update: the arguments' gradient_accumulation_steps.</summary>
    internal int GradientAccumulationSteps { get; init; } = 2;
    /// <summary>Optimisation passes over each rollout batch (TRL num_ppo_epochs), &gt; 0. Default 4.</summary>
    public int NumPpoEpochs { get; init; } = 4;

    /// <summary>Response length limit when sampling, &gt; 0 and less than the policy's context. Default 20.</summary>
    public int MaxNewTokens { get; init; } = 20;
    /// <summary>Sampling temperature &gt; 0; the policy's log-probs (ratio, KL) use the same. Default 1. There is no top-k /
    /// top-p: the textbook samples with top_k 0 and top_p 1, and any truncation would make the logged KL wrong (PITFALLS #5).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Initial KL coefficient β ≥ 0. Default 0.2.</summary>
    public double InitKlCoef { get; init; } = 0.2;
    /// <summary>How β adapts. Default <see cref="KlControl.Ziegler"/>.</summary>
    public KlControl KlControl { get; init; } = KlControl.Ziegler;
    /// <summary>Target KL &gt; 0 of the adaptive controllers. Default 6.</summary>
    public double Target { get; init; } = 6;
    /// <summary>Horizon &gt; 0 of Ziegler's controller. Default 10000.</summary>
    public double Horizon { get; init; } = 10000;
    /// <summary>Per-token KL estimate in the reward. Default <see cref="KlEstimator.K1"/>.</summary>
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K1;

    /// <summary>Discount γ in [0, 1]. Default 1.</summary>
    public double Gamma { get; init; } = 1;
    /// <summary>GAE λ in [0, 1]. Default 0.95.</summary>
    public double Lambda { get; init; } = 0.95;
    /// <summary>Policy ratio clip ε &gt; 0. Default 0.2.</summary>
    public double ClipRange { get; init; } = 0.2;
    /// <summary>Value clip ε_v &gt; 0. Default 0.2.</summary>
    public double ClipRangeValue { get; init; } = 0.2;
    /// <summary>Weight ≥ 0 of the value loss. Default 0.1.</summary>
    public double VfCoef { get; init; } = 0.1;
    /// <summary>Whiten per-token rewards before GAE. Default false.</summary>
    public bool WhitenRewards { get; init; }
    /// <summary>Whiten the advantages over the rollout batch. Default true.</summary>
    public bool WhitenAdvantages { get; init; } = true;
    /// <summary>Subtracted from the score of responses that never emit EOS (TRL missing_eos_penalty); null = none.</summary>
    public float? MissingEosPenalty { get; init; }

    /// <summary>
    /// This configuration with the rollout batch and accumulation taken from <paramref name="arguments"/> (rlhf ppo's
    /// meaning of them), and the arguments the loop runs with: one group per rollout, PPO accumulating over its own mini-batches.
    /// </summary>
    internal (PpoConfig Config, TrainingArguments Loop) Bind(TrainingArguments arguments) =>
        (this with { BatchSize = arguments.PerDeviceTrainBatchSize, GradientAccumulationSteps = arguments.GradientAccumulationSteps },
            arguments with { GradientAccumulationSteps = 1 });

    /// <summary>Checks the settings against their ranges.</summary>
    /// <exception cref="ArgumentException">A setting is out of range (the message names it, its range and value).</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (BatchSize <= 0 || MiniBatchSize <= 0 || GradientAccumulationSteps <= 0 || NumPpoEpochs <= 0)
            problems.Add($"batch_size ({BatchSize}), mini_batch_size ({MiniBatchSize}), gradient_accumulation_steps ({GradientAccumulationSteps}) and ppo_epochs ({NumPpoEpochs}) must be > 0");
        if (MaxNewTokens <= 0) problems.Add($"max_new_tokens must be > 0 (got {MaxNewTokens})");
        if (!(Temperature > 0)) problems.Add($"temperature must be > 0 (got {Temperature})");
        if (!(InitKlCoef >= 0)) problems.Add($"init_kl_coef must be ≥ 0 (got {InitKlCoef})");
        if (KlControl != KlControl.Fixed && !(Target > 0)) problems.Add($"target must be > 0 (got {Target})");
        if (KlControl == KlControl.Ziegler && !(Horizon > 0)) problems.Add($"horizon must be > 0 (got {Horizon})");
        if (!(Gamma is >= 0 and <= 1) || !(Lambda is >= 0 and <= 1)) problems.Add($"gamma ({Gamma}) and lam ({Lambda}) must lie in [0, 1]");
        if (!(ClipRange > 0) || !(ClipRangeValue > 0)) problems.Add($"cliprange ({ClipRange}) and cliprange_value ({ClipRangeValue}) must be > 0");
        if (!(VfCoef >= 0)) problems.Add($"vf_coef must be ≥ 0 (got {VfCoef})");
        if (problems.Count > 0) throw new ArgumentException("Invalid PPO configuration: " + string.Join("; ", problems) + ".");
    }

    internal IKlController CreateKlController() => KlControl switch
    {
        KlControl.Fixed => new FixedKlController(InitKlCoef),
        KlControl.Ziegler => new ZieglerKlController(InitKlCoef, Target, Horizon),
        _ => new SeedAdaptiveKlController(InitKlCoef, Target),
    };
}
