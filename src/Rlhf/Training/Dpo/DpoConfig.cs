// DPO options with TRL's names and the textbook's defaults where it sets them (β 0.3).
namespace Rlhf.Training.Dpo;

internal sealed record DpoConfig
{
    public float Beta { get; init; } = 0.1f;
    public DpoLossType LossType { get; init; } = DpoLossType.Sigmoid;
    public float LabelSmoothing { get; init; }
    public bool ReferenceFree { get; init; }
    /// <summary>Weight of the SFT (NLL on chosen) term mixed into the loss (TRL's rpo_alpha); null = none.</summary>
    public float? RpoAlpha { get; init; }
    public int MaxLength { get; init; } = 512;
    public int MaxPromptLength { get; init; } = 256;
    /// <summary>Compute the reference log-probs once before training and release the reference model.</summary>
    public bool PrecomputeRefLogProbs { get; init; }

    public DpoLossOptions LossOptions => new(Beta, LossType, LabelSmoothing, ReferenceFree, RpoAlpha);

    public void Validate()
    {
        LossOptions.Validate();
        if (LossType == DpoLossType.Ipo && RpoAlpha is not null)
            throw new ArgumentException("rpo_alpha cannot be combined with loss_type ipo (IPO works on length-averaged log-probs).");
        if (MaxLength <= 0 || MaxPromptLength <= 0 || MaxPromptLength >= MaxLength)
            throw new ArgumentException($"Need 0 < max_prompt_length < max_length (got {MaxPromptLength} and {MaxLength}).");
    }
}
