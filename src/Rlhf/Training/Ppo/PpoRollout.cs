// One sampled response with everything PPO needs about it, aligned per response token.
namespace Rlhf.Training.Ppo;

internal sealed class PpoRollout
{
    public required int[] PromptIds { get; init; }
    /// <summary>Sampled response ids, EOS included when emitted.</summary>
    public required int[] ResponseIds { get; init; }
    public required bool EndedWithEos { get; init; }
    /// <summary>Reward-model score (after the missing-EOS penalty).</summary>
    public float Score { get; set; }

    // Per response token j (all of length ResponseIds.Length):
    public float[] OldLogProbs { get; set; } = [];
    public float[] ReferenceLogProbs { get; set; } = [];
    public float[] Values { get; set; } = [];
    public float[] Entropy { get; set; } = [];
    public float[] Advantages { get; set; } = [];
    public float[] Returns { get; set; } = [];

    public int Length => ResponseIds.Length;
}
