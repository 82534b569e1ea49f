// Differentiable ops for rotary, grouped-query attention (transformers' Llama/Qwen2 attention): rotary embedding of q
// or k, causal grouped-query attention on the tape, and its KV-cache form for inference.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    /// <summary>
    /// Rotary embedding of q or k, [N, heads·headDim] → same shape, half-split (rotate_half) convention; positionIds
    /// [N] index the tables cos and sin [P, headDim/2] (<see cref="RotaryFrequencies.Tables"/>), so left-padded rows
    /// pass their own positions.
    /// </summary>
    public Node Rotary(Node input, Tensor cos, Tensor sin, int[] positionIds, int heads, int headDim)
    {
        int rows = positionIds.Length;
        if (input.Value.Length != (long)rows * heads * headDim)
            throw new ArgumentException($"Rotary input has {input.Value.Length} values, expected {rows}·{heads}·{headDim}.", nameof(input));
        if (cos.Shape.Length != 2 || cos.Shape[1] != headDim / 2 || sin.Length != cos.Length)
            throw new ArgumentException($"cos and sin must both be [positions, {headDim / 2}].", nameof(cos));
        int positions = cos.Shape[0];
        foreach (int p in positionIds)
            if ((uint)p >= (uint)positions) throw new ArgumentOutOfRangeException(nameof(positionIds), $"Position {p} is outside the rotary tables (0..{positions - 1}).");
        var output = Output(input.RequiresGradient, input.Shape);
        fixed (int* ids = positionIds)
            RotaryKernels.Forward(output.Value.Pointer, input.Value.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                fixed (int* ids = positionIds)
                    RotaryKernels.Backward(input.Gradient.Pointer, output.Gradient.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// Causal grouped-query self-attention: query [B·T, H·D], key and value [B·T, KV·D] (H % KV == 0; query head h
    /// uses key/value head h / (H/KV)) → [B·T, H·D], scores scaled by 1/√D; keyMask [B, T] (1 real, 0 padding) or null.
    /// </summary>
    public Node GroupedAttention(Node query, Node key, Node value, Tensor? keyMask, int batch, int tokens, int heads, int kvHeads, int headDim)
    {
        CheckGroupedShapes(query, key, value, (long)batch * tokens, heads, kvHeads, headDim);
        int queryWidth = heads * headDim, keyValueWidth = kvHeads * headDim;
        var output = Output(query.RequiresGradient || key.RequiresGradient || value.RequiresGradient, batch * tokens, queryWidth);
        // Only each row's logsumexp is kept for backward (FlashAttention-2), not the [B, H, T, T] probabilities.
        var logSumExp = output.RequiresGradient ? Arena.AllocateUninitialized(batch, heads, tokens) : null;
        float* mask = keyMask is null ? null : keyMask.Pointer;
        AttentionKernels.Forward(output.Value.Pointer, logSumExp is null ? null : logSumExp.Pointer, query.Value.Pointer, key.Value.Pointer,
            value.Value.Pointer, mask, batch, tokens, heads, kvHeads, headDim, queryWidth, keyValueWidth);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                // The kernel writes every gradient; frozen inputs get a throwaway buffer from the arena.
                var queryGrad = query.RequiresGradient ? query.Gradient : Arena.Allocate(query.Shape);
                var keyGrad = key.RequiresGradient ? key.Gradient : Arena.Allocate(key.Shape);
                var valueGrad = value.RequiresGradient ? value.Gradient : Arena.Allocate(value.Shape);
                AttentionKernels.Backward(queryGrad.Pointer, keyGrad.Pointer, valueGrad.Pointer, output.Gradient.Pointer,
                    query.Value.Pointer, key.Value.Pointer, value.Value.Pointer, logSumExp!.Pointer,
                    keyMask is null ? null : keyMask.Pointer, batch, tokens, heads, kvHeads, headDim, queryWidth, keyValueWidth);
                if (!query.RequiresGradient) Arena.Recycle(queryGrad);
                if (!key.RequiresGradient) Arena.Recycle(keyGrad);
                if (!value.RequiresGradient) Arena.Recycle(valueGrad);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// Inference-only grouped-query attention of n new tokens over a KV cache: query [B·n, H·D], key and value
    /// [B·n, KV·D] (rotary already applied) → [B·n, H·D]. Keys and values are appended at slots [start, start + n) of
    /// keyCache [B, KV, D, <see cref="CachedAttentionKernels.KeyStride"/>(capacity)] and valueCache [B, KV, capacity, D];
    /// keyMask [B, capacity]. Tensors are passed raw because the cache lives outside the arena.
    /// </summary>
    public Node CachedGroupedAttention(Node query, Node key, Node value, Tensor keyCache, Tensor valueCache, Tensor keyMask,
        int batch, int newTokens, int start, int heads, int kvHeads, int headDim)
    {
        if (Recording && (query.RequiresGradient || key.RequiresGradient || value.RequiresGradient))
            throw new InvalidOperationException("Cached attention is for inference; disable the tape.");
        CheckGroupedShapes(query, key, value, (long)batch * newTokens, heads, kvHeads, headDim);
        int capacity = keyMask.Shape[1];
        if (keyCache.Length < (long)batch * kvHeads * headDim * CachedAttentionKernels.KeyStride(capacity) || valueCache.Length < (long)batch * kvHeads * capacity * headDim)
            throw new ArgumentException($"The KV cache is smaller than [{batch}, {kvHeads}, {headDim}, {capacity}].", nameof(keyCache));
        var output = Output(false, batch * newTokens, heads * headDim);
        CachedAttentionKernels.Forward(output.Value.Pointer, keyCache.Pointer, valueCache.Pointer, query.Value.Pointer, key.Value.Pointer,
            value.Value.Pointer, keyMask.Pointer, batch, newTokens, start, capacity, heads, kvHeads, headDim, heads * headDim, kvHeads * headDim);
        return output;
    }

    private static void CheckGroupedShapes(Node query, Node key, Node value, long rows, int heads, int kvHeads, int headDim)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"heads ({heads}) must be a positive multiple of the key/value heads ({kvHeads}).", nameof(kvHeads));
        if (query.Value.Length != rows * heads * headDim)
            throw new ArgumentException($"query has {query.Value.Length} values, expected {rows}·{heads}·{headDim}.", nameof(query));
        if (key.Value.Length != rows * kvHeads * headDim || value.Value.Length != key.Value.Length)
            throw new ArgumentException($"key and value must each have {rows}·{kvHeads}·{headDim} values.", nameof(key));
    }
}
