// Sampled prompt + response rows laid out for one scoring or training pass: right-padded, the response tokens as
// targets (PPO, GRPO, RLOO).
using Rlhf.Models;

namespace Rlhf.Training;

internal static class RolloutBatch
{
    /// <summary>prompt + response rows, right-padded with <paramref name="padTokenId"/>; the targets are the response tokens.</summary>
    public static CausalLmBatch Collate(IReadOnlyList<(int[] Prompt, int[] Response)> rows, int padTokenId)
    {
        int length = rows.Max(r => r.Prompt.Length + r.Response.Length);
        var ids = new int[rows.Count * length];
        var mask = new float[rows.Count * length];
        var labels = new bool[rows.Count * length];
        Array.Fill(ids, padTokenId);
        for (int b = 0; b < rows.Count; b++)
        {
            var (prompt, response) = rows[b];
            prompt.CopyTo(ids, b * length);
            response.CopyTo(ids, b * length + prompt.Length);
            for (int t = 0; t < prompt.Length + response.Length; t++)
            {
                mask[b * length + t] = 1;
                labels[b * length + t] = t >= prompt.Length;
            }
        }
        return new CausalLmBatch(rows.Count, length, ids, mask, labels);
    }

    /// <summary>Flat index in a collated batch of response token j of row b (its log-prob sits one position earlier).</summary>
    public static int TokenIndex(CausalLmBatch batch, int promptLength, int row, int j) => row * batch.SequenceLength + promptLength - 1 + j;
}
