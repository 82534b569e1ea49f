// DPO options with TRL's names and the textbook's defaults where it sets them (β 0.3).
namespace Rlhf.Training.Dpo;

/// <summary>DPO settings, with TRL's DPOConfig names and defaults.</summary>
public sealed record DpoConfig
{
    /// <summary>β &gt; 0: how strongly the policy is held to the reference (TRL 0.1; the textbook uses 0.3).</summary>
    public float Beta { get; init; } = 0.1f;
    /// <summary>Which DPO-family loss. Default <see cref="DpoLossType.Sigmoid"/> (DPO).</summary>
    public DpoLossType LossType { get; init; } = DpoLossType.Sigmoid;
    /// <summary>ε in [0, 0.5): assumed label noise (conservative / robust DPO). Default 0.</summary>
    public float LabelSmoothing { get; init; }
    /// <summary>Use a uniform reference (no reference model): the loss sees only the policy's log-ratio. Default false.</summary>
    public bool ReferenceFree { get; init; }
    /// <summary>Weight of the SFT (NLL on chosen) term mixed into the loss (TRL's rpo_alpha); null = none.</summary>
    public float? RpoAlpha { get; init; }
    /// <summary>Most tokens of prompt + response, &gt; <see cref="MaxPromptLength"/>; longer responses are cut. Default 512.</summary>
    public int MaxLength { get; init; } = 512;
    /// <summary>Most prompt tokens (a longer prompt keeps its end), &gt; 0. Default 256.</summary>
    public int MaxPromptLength { get; init; } = 256;
    /// <summary>Compute the reference log-probs once before training and release the reference model.</summary>
    public bool PrecomputeRefLogProbs { get; init; }

    internal DpoLossOptions LossOptions => new(Beta, LossType, LabelSmoothing, ReferenceFree, RpoAlpha);

    /// <summary>Checks the settings against their ranges.</summary>
    /// <exception cref="ArgumentException">A setting is out of range (the message names it, its range and value).</exception>
    public void Validate()
    {
        LossOptions.Validate();
        if (LossType == DpoLossType.Ipo && RpoAlpha is not null)
            throw new ArgumentException("rpo_alpha cannot be combined with loss_type ipo (IPO works on length-averaged log-probs).");
        if (MaxLength <= 0 || MaxPromptLength <= 0 || MaxPromptLength >= MaxLength)
            throw new ArgumentException($"Need 0 < max_prompt_length < max_length (got {MaxPromptLength} and {MaxLength}).");
    }
}
