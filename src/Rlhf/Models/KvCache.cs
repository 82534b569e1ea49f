// Keys and values of every layer for the tokens seen so far, so each new token costs one position's work.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;

namespace Rlhf.Models;

/// <summary>
/// Per layer, keys [B, H, HS, KeyStride(capacity)] (transposed, see <see cref="CachedAttentionKernels"/>) and values
/// [B, H, capacity, HS]; plus which slots hold real tokens (left padding is 0).
/// <see cref="ICausalLm.Forward"/> appends to it and advances <see cref="Length"/>; models make theirs with
/// <see cref="ICausalLm.CreateKvCache"/>.
/// </summary>
internal sealed class KvCache : IDisposable
{
    public int BatchSize { get; }
    public int Capacity { get; }

    /// <summary>Slots filled so far (the same for every row).</summary>
    public int Length { get; internal set; }

    public Tensor[] Keys { get; }
    public Tensor[] Values { get; }

    /// <summary>[B, capacity]: 1 where a slot holds a real token.</summary>
    public Tensor KeyMask { get; }

    /// <summary>All keys, values and the mask live in this one slab, freed by <see cref="Dispose"/>.</summary>
    private readonly NativeSlab slab;

    /// <param name="heads">Key/value heads per layer (fewer than query heads under grouped-query attention).</param>
    /// <param name="contextLength">The model's longest sequence; <paramref name="capacity"/> may not exceed it.</param>
    public KvCache(int layers, int heads, int headSize, int contextLength, int batchSize, int capacity)
    {
        if (capacity > contextLength)
            throw new ArgumentException($"{capacity} tokens exceed the model's context of {contextLength} positions.");
        BatchSize = batchSize;
        Capacity = capacity;
        int keyStride = CachedAttentionKernels.KeyStride(capacity);
        long keysPerLayer = (long)batchSize * heads * headSize * keyStride;
        long valuesPerLayer = (long)batchSize * heads * capacity * headSize;
        long perLayer = (keysPerLayer + valuesPerLayer + 15) / 16 * 16;
        // Not zeroed: attention reads only slots already written (the mask of each new token is set before it is used).
        slab = new NativeSlab(layers * perLayer + (long)batchSize * capacity, zeroed: false);
        Keys = new Tensor[layers];
        Values = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            Keys[i] = new Tensor(slab, i * perLayer, batchSize, heads, headSize, keyStride);
            Values[i] = new Tensor(slab, i * perLayer + keysPerLayer, batchSize, heads, capacity, headSize);
        }
        KeyMask = new Tensor(slab, layers * perLayer, batchSize, capacity);
    }

    /// <summary>Records the padding mask [B, n] of n tokens about to be appended.</summary>
    internal void SetMask(ReadOnlySpan<float> mask, int newTokens)
    {
        if (Length + newTokens > Capacity) throw new InvalidOperationException($"The KV cache holds {Capacity} tokens; {Length + newTokens} were requested.");
        var slots = KeyMask.Span;
        for (int b = 0; b < BatchSize; b++)
            for (int i = 0; i < newTokens; i++) slots[b * Capacity + Length + i] = mask.IsEmpty ? 1f : mask[b * newTokens + i];
    }

    public void Dispose() => slab.Dispose();
}
