// A tokenised preference pair for DPO, with its reference log-probs once they are computed.
namespace Rlhf.Training.Dpo;

/// <param name="PromptIds">The rendered prompt, tokenised on its own.</param>
/// <param name="ChosenIds">The preferred response (EOS included), tokenised on its own.</param>
/// <param name="RejectedIds">The dispreferred response (EOS included).</param>
internal sealed record DpoExample(int[] PromptIds, int[] ChosenIds, int[] RejectedIds)
{
    /// <summary>log π_ref(chosen | prompt), summed over response tokens; null until computed.</summary>
    public float? ReferenceChosen { get; init; }
    public float? ReferenceRejected { get; init; }

    /// <summary>
    /// TRL's truncation: a prompt longer than <paramref name="maxPromptLength"/> keeps its end; then responses are
    /// cut so prompt + response ≤ <paramref name="maxLength"/>.
    /// </summary>
    public DpoExample Truncate(int maxLength, int maxPromptLength)
    {
        var prompt = PromptIds.Length > maxPromptLength ? PromptIds[^maxPromptLength..] : PromptIds;
        int room = Math.Max(0, maxLength - prompt.Length);
        return this with
        {
            PromptIds = prompt,
            ChosenIds = ChosenIds.Length > room ? ChosenIds[..room] : ChosenIds,
            RejectedIds = RejectedIds.Length > room ? RejectedIds[..room] : RejectedIds,
        };
    }
}
