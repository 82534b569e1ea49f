// PPO settings with TRL's names; defaults from the textbook's PPOConfig (lr 1e-5, batch 16, mini-batch 8,
// gradient accumulation 2, untruncated sampling / 20 new tokens) and TRL's PPO defaults for the rest.
namespace Rlhf.Training.Ppo;

/// <summary>How β (the KL coefficient) changes between rollouts.</summary>
internal enum KlControl
{
    /// <summary>β stays at init_kl_coef.</summary>
    Fixed,
    /// <summary>Ziegler et al. 2019: β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon) (TRL's adap_kl_ctrl).</summary>
    Ziegler,
    /// <summary>Seed 004: β×2 when KL &gt; 1.5·target, β×½ when KL &lt; target/1.5.</summary>
    Seed,
}

internal sealed record PpoConfig
{
    /// <summary>Prompts sampled per rollout (TRL batch_size).</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Rollouts per forward/backward pass (TRL mini_batch_size).</summary>
    public int MiniBatchSize { get; init; } = 8;
    /// <summary>Mini-batches whose gradients are summed before each optimizer update.</summary>
    public int GradientAccumulationSteps { get; init; } = 2;
    /// <summary>Passes over each rollout batch (TRL ppo_epochs).</summary>
    public int NumPpoEpochs { get; init; } = 4;

    public int MaxNewTokens { get; init; } = 20;
    /// <summary>Sampling temperature; the policy's log-probs (ratio, KL) use the same. There is no top-k / top-p: the
    /// seed samples with top_k 0 and top_p 1, and any truncation would make the logged KL wrong (PITFALLS #5).</summary>
    public float Temperature { get; init; } = 1f;

    public double InitKlCoef { get; init; } = 0.2;
    public KlControl KlControl { get; init; } = KlControl.Ziegler;
    public double Target { get; init; } = 6;
    public double Horizon { get; init; } = 10000;
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K1;

    public double Gamma { get; init; } = 1;
    public double Lambda { get; init; } = 0.95;
    public double ClipRange { get; init; } = 0.2;
    public double ClipRangeValue { get; init; } = 0.2;
    public double VfCoef { get; init; } = 0.1;
    public bool WhitenRewards { get; init; }
    public bool WhitenAdvantages { get; init; } = true;
    /// <summary>Subtracted from the score of responses that never emit EOS (TRL missing_eos_penalty); null = none.</summary>
    public float? MissingEosPenalty { get; init; }

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

    public IKlController CreateKlController() => KlControl switch
    {
        KlControl.Fixed => new FixedKlController(InitKlCoef),
        KlControl.Ziegler => new ZieglerKlController(InitKlCoef, Target, Horizon),
        _ => new SeedAdaptiveKlController(InitKlCoef, Target),
    };
}
