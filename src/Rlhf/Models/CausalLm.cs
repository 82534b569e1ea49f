// The language-modelling head on any causal LM: mean next-token cross-entropy and per-token log-probs.
using Rlhf.Tensors;

namespace Rlhf.Models;

internal static class CausalLm
{
    /// <summary>The argument checks every family's <see cref="ICausalLm.Forward"/> makes first.</summary>
    public static void CheckForward(ICausalLm model, int[] tokenIds, int[] positionIds, int batch, int tokens, bool trainable, InferenceWeights? packed)
    {
        if (packed is not null && (trainable || !ReferenceEquals(packed.Model, model)))
            throw new ArgumentException("Packed weights are for inference with the model they were packed from.");
        if (tokenIds.Length != batch * tokens || positionIds.Length != tokenIds.Length)
            throw new ArgumentException($"Expected {batch}×{tokens} token and position ids, got {tokenIds.Length} and {positionIds.Length}.");
        if (tokens > model.Config.ContextLength)
            throw new ArgumentException($"A sequence of {tokens} tokens is longer than the model's context ({model.Config.ContextLength}).");
    }

    /// <summary>Mean cross-entropy over the batch's targets, times <paramref name="scale"/> (for gradient accumulation).</summary>
    public static Node Loss(ICausalLm model, Ops ops, CausalLmBatch batch, float scale = 1f, bool trainable = true)
    {
        var hidden = Hidden(model, ops, batch, trainable);
        return ops.LinearCrossEntropy(hidden, model.LmHeadWeight(ops, trainable), batch.Targets, batch.MeanWeights(scale));
    }

    /// <summary>log p(target) at every position [B·T] (0 where there is no target), of logits / <paramref name="temperature"/>.</summary>
    /// <param name="entropy">When given ([B·T]), receives each position's entropy (no gradient).</param>
    /// <param name="packed">Packed linear weights to run a frozen model on (see <see cref="InferenceWeights"/>), or null.</param>
    public static Node TokenLogProbs(ICausalLm model, Ops ops, CausalLmBatch batch, bool trainable = true, float temperature = 1f,
        Tensor? entropy = null, InferenceWeights? packed = null) =>
        TokenLogProbs(model, ops, Hidden(model, ops, batch, trainable, packed), batch, trainable, temperature, entropy);

    /// <summary>As above, from hidden states already computed (e.g. shared with a value head).</summary>
    public static Node TokenLogProbs(ICausalLm model, Ops ops, Node hidden, CausalLmBatch batch, bool trainable = true, float temperature = 1f,
        Tensor? entropy = null)
    {
        var scaled = temperature == 1f ? hidden : ops.Scale(hidden, 1f / temperature);
        return ops.LinearLogProbs(scaled, model.LmHeadWeight(ops, trainable), batch.Targets, entropy);
    }

    /// <summary>The final hidden states [B·T, C] of a padded batch.</summary>
    public static Node Hidden(ICausalLm model, Ops ops, CausalLmBatch batch, bool trainable = true, InferenceWeights? packed = null) =>
        model.Forward(ops, batch.TokenIds, batch.PositionIds, batch.KeyMask(ops.Arena), batch.BatchSize, batch.SequenceLength, trainable, packed: packed);
}
