// The language-modelling head on a GPT-2 backbone: mean next-token cross-entropy and per-token log-probs.
using Rlhf.Tensors;

namespace Rlhf.Models;

public static class CausalLm
{
    /// <summary>Mean cross-entropy over the batch's targets, times <paramref name="scale"/> (for gradient accumulation).</summary>
    public static Node Loss(Gpt2Model model, Ops ops, CausalLmBatch batch, float scale = 1f, bool trainable = true)
    {
        var embedding = model.TokenEmbedding(ops, trainable);
        var hidden = model.Forward(ops, embedding, batch.TokenIds, batch.PositionIds, batch.KeyMask(ops.Arena),
            batch.BatchSize, batch.SequenceLength, trainable);
        return ops.CrossEntropy(hidden, embedding, batch.Targets, batch.MeanWeights(scale));
    }

    /// <summary>log p(target) at every position [B·T] (0 where there is no target).</summary>
    public static Node TokenLogProbs(Gpt2Model model, Ops ops, CausalLmBatch batch, bool trainable = true)
    {
        var embedding = model.TokenEmbedding(ops, trainable);
        var hidden = model.Forward(ops, embedding, batch.TokenIds, batch.PositionIds, batch.KeyMask(ops.Arena),
            batch.BatchSize, batch.SequenceLength, trainable);
        return ops.TokenLogProbs(hidden, embedding, batch.Targets);
    }
}
