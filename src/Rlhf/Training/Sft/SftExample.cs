// A tokenised demonstration: prompt ids and response ids (EOS included), tokenised separately (PITFALLS #12).
namespace Rlhf.Training.Sft;

internal sealed record SftExample(int[] PromptIds, int[] ResponseIds)
{
    public int Length => PromptIds.Length + ResponseIds.Length;
}
