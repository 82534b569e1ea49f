// The language-modelling head on any causal LM: mean next-token cross-entropy and per-token log-probs.
using Rlhf.Tensors;

namespace Rlhf.Models;

internal static class CausalLm
{
    /// <summary>Mean cross-entropy over the batch's targets, times <paramref name="scale"/> (for gradient accumulation).</summary>
    public static Node Loss(ICausalLm model, Ops ops, CausalLmBatch batch, float scale = 1f, bool trainable = true)
    {
        var hidden = Hidden(model, ops, batch, trainable);
        return ops.LinearCrossEntropy(hidden, model.LmHeadWeight(ops, trainable), batch.Targets, batch.MeanWeights(scale));
    }

    /// <summary>log p(target) at every position [B·T] (0 where there is no target), of logits / <paramref name="temperature"/>.</summary>
    /// <param name="entropy">When given ([B·T]), receives each position's entropy (no gradient).</param>
    public static Node TokenLogProbs(ICausalLm model, Ops ops, CausalLmBatch batch, bool trainable = true, float temperature = 1f,
        Tensor? entropy = null) =>
        TokenLogProbs(model, ops, Hidden(model, ops, batch, trainable), batch, trainable, temperature, entropy);

    /// <summary>As above, from hidden states already computed (e.g. shared with a value head).</summary>
    public static Node TokenLogProbs(ICausalLm model, Ops ops, Node hidden, CausalLmBatch batch, bool trainable = true, float temperature = 1f,
        Tensor? entropy = null)
    {
        var scaled = temperature == 1f ? hidden : ops.Scale(hidden, 1f / temperature);
        return ops.LinearLogProbs(scaled, model.LmHeadWeight(ops, trainable), batch.Targets, entropy);
    }

    /// <summary>The final hidden states [B·T, C] of a padded batch.</summary>
    public static Node Hidden(ICausalLm model, Ops ops, CausalLmBatch batch, bool trainable = true) =>
        model.Forward(ops, batch.TokenIds, batch.PositionIds, batch.KeyMask(ops.Arena), batch.BatchSize, batch.SequenceLength, trainable);
}
