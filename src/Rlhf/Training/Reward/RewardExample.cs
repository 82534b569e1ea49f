// A tokenised preference example: K ≥ 2 responses to one prompt, best first (a pair is K = 2).
namespace Rlhf.Training.Reward;

/// <param name="Sequences">prompt + response ids for each response, best first (tokenised separately, then joined).</param>
/// <param name="Margin">Optional margin for the pairwise loss (how much better the first is).</param>
internal sealed record RewardExample(int[][] Sequences, float? Margin = null)
{
    public int Count => Sequences.Length;
}

/// <summary>How ranked responses become a loss (seeds 000, 002, 004).</summary>
public enum RewardLossType
{
    /// <summary>−log σ(r_w − r_l − margin) per pair; for K &gt; 2 responses the K-wise form over all C(K,2) pairs.</summary>
    Pairwise,
    /// <summary>InstructGPT: −1/C(K,2) Σ_{i&lt;j} log σ(r_i − r_j), one forward per response, one prompt per batch element.</summary>
    KWise,
    /// <summary>Seed 004: cross-entropy of the best response under softmax over the K rewards.</summary>
    SoftmaxK,
    /// <summary>Seed 002: max(0, −(r_w − r_l) + margin) (torch MarginRankingLoss).</summary>
    MarginRanking,
}
