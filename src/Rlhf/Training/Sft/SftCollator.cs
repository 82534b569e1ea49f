// Pads SFT examples into a causal-LM batch whose labels are exactly the response tokens.
using Rlhf.Models;

namespace Rlhf.Training.Sft;

internal static class SftCollator
{
    /// <summary>
    /// Right-pads prompt+response to the longest example. Labels come from the prompt/response boundary and the
    /// attention mask — never from <c>id == pad</c> — so the EOS that ends each response is learned even when
    /// pad and EOS share an id (PITFALLS #3).
    /// </summary>
    public static CausalLmBatch Collate(IReadOnlyList<SftExample> examples, int padTokenId)
    {
        int batch = examples.Count, length = examples.Max(e => e.Length);
        var ids = new int[batch * length];
        var mask = new float[batch * length];
        var labels = new bool[batch * length];
        Array.Fill(ids, padTokenId);
        for (int b = 0; b < batch; b++)
        {
            var example = examples[b];
            int row = b * length;
            example.PromptIds.CopyTo(ids, row);
            example.ResponseIds.CopyTo(ids, row + example.PromptIds.Length);
            for (int t = 0; t < example.Length; t++)
            {
                mask[row + t] = 1f;
                labels[row + t] = t >= example.PromptIds.Length;
            }
        }
        return new CausalLmBatch(batch, length, ids, mask, labels);
    }
}
