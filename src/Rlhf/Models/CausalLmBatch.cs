// A padded batch for causal language modelling: ids, positions, key mask, next-token targets and loss weights.
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>
/// Token rows of equal length T (already padded), their attention masks and, per position, whether the
/// token there is a training label. Row b's target at t is the id at t+1 when that id is a label;
/// otherwise −1 (no loss). Positions count real tokens only, so left padding does not shift them.
/// </summary>
internal sealed class CausalLmBatch
{
    public int BatchSize { get; }
    public int SequenceLength { get; }
    public int[] TokenIds { get; }
    public int[] PositionIds { get; }
    public float[] AttentionMask { get; }
    public int[] Targets { get; }

    /// <summary>Number of positions that carry a target.</summary>
    public int TargetCount { get; }

    /// <param name="labelMask">[B·T]: true where the token is a label (e.g. answer tokens); null = every real token.</param>
    public CausalLmBatch(int batchSize, int sequenceLength, int[] tokenIds, float[]? attentionMask = null, bool[]? labelMask = null)
    {
        int count = batchSize * sequenceLength;
        if (tokenIds.Length != count) throw new ArgumentException($"Expected {count} token ids, got {tokenIds.Length}.");
        attentionMask ??= Enumerable.Repeat(1f, count).ToArray();
        if (attentionMask.Length != count) throw new ArgumentException($"Expected {count} mask values, got {attentionMask.Length}.");
        if (labelMask is not null && labelMask.Length != count) throw new ArgumentException($"Expected {count} label flags, got {labelMask.Length}.");
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        TokenIds = tokenIds;
        AttentionMask = attentionMask;
        PositionIds = new int[count];
        Targets = new int[count];
        for (int b = 0; b < batchSize; b++)
        {
            int position = 0;
            for (int t = 0; t < sequenceLength; t++)
            {
                int i = b * sequenceLength + t;
                bool real = attentionMask[i] != 0;
                PositionIds[i] = real ? position++ : 0;
                int next = i + 1;
                bool nextIsLabel = t + 1 < sequenceLength && attentionMask[next] != 0 && (labelMask?[next] ?? true);
                Targets[i] = real && nextIsLabel ? tokenIds[next] : -1;
                if (Targets[i] >= 0) TargetCount++;
            }
        }
    }

    /// <summary>Loss weights for the mean cross-entropy over all targets of the batch, times <paramref name="scale"/>.</summary>
    public float[] MeanWeights(float scale = 1f)
    {
        var weights = new float[Targets.Length];
        float w = TargetCount == 0 ? 0f : scale / TargetCount;
        for (int i = 0; i < weights.Length; i++) weights[i] = Targets[i] >= 0 ? w : 0f;
        return weights;
    }

    /// <summary>The attention mask copied into the arena as a [B, T] tensor for the kernels.</summary>
    public Tensor KeyMask(Arena arena)
    {
        var mask = arena.AllocateUninitialized(BatchSize, SequenceLength);
        AttentionMask.CopyTo(mask.Span);
        return mask;
    }
}
