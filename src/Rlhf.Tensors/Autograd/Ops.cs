// Differentiable ops: each runs its forward kernel and records the matching backward on the tape.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

/// <summary>
/// Builds a computation from kernels. Outputs come from the step's <see cref="Arena"/>; when the tape is
/// enabled each op records a backward step that adds into its inputs' gradients and then releases its
/// output's gradient for reuse. Shapes: N rows (= B·T tokens), C channels, V vocabulary.
/// </summary>
internal sealed unsafe partial class Ops(Arena arena, Tape tape)
{
    public Arena Arena { get; } = arena;
    public Tape Tape { get; } = tape;

    private bool Recording => Tape.Enabled;

    /// <summary>A constant input (no gradient).</summary>
    public Node Constant(Tensor value) => new(value, false, Arena);

    /// <summary>A parameter; its gradient accumulates into the parameter set's gradient slab when trainable.</summary>
    /// <remarks>A frozen parameter is always a constant.</remarks>
    public Node Parameter(Parameter parameter, bool trainable = true)
    {
        trainable &= !parameter.Frozen;
        return new(parameter.Value, trainable, Arena, trainable ? parameter.Gradient : null);
    }

    /// <summary>A parameter seen through another shape of the same size (e.g. an nn.Linear [out, in] weight with
    /// out = 1 viewed as a Conv1D [in, 1] weight).</summary>
    public Node ParameterView(Parameter parameter, int[] shape, bool trainable = true)
    {
        trainable &= !parameter.Frozen;
        return new(parameter.Value.Reshape(shape), trainable, Arena, trainable ? parameter.Gradient.Reshape(shape) : null);
    }

    private Node Output(bool requiresGradient, params int[] shape)
    {
        freshLinearOutput = null;
        return new(Arena.AllocateUninitialized(shape), requiresGradient && Recording, Arena);
    }

    // Marks a linear op's output as fresh (see LowRankUpdate): its backward never reads it.
    private Node Fresh(Node linearOutput)
    {
        freshLinearOutput = linearOutput;
        return linearOutput;
    }

    /// <summary>[N, C] = tokenTable[tokenIds] + positionTable[positionIds].</summary>
    public Node Embedding(Node tokenTable, Node positionTable, int[] tokenIds, int[] positionIds)
    {
        int count = tokenIds.Length, channels = tokenTable.Shape[1];
        var output = Output(tokenTable.RequiresGradient || positionTable.RequiresGradient, count, channels);
        fixed (int* tokens = tokenIds, positions = positionIds)
            EmbeddingKernels.Forward(output.Value.Pointer, tokens, positions, tokenTable.Value.Pointer, positionTable.Value.Pointer, count, channels);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                fixed (int* tokens = tokenIds, positions = positionIds)
                    EmbeddingKernels.Backward(GradientOrNull(tokenTable), GradientOrNull(positionTable), output.Gradient.Pointer,
                        tokens, positions, count, channels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>LayerNorm over the last axis of [N, C].</summary>
    public Node LayerNorm(Node input, Node weight, Node bias, float epsilon)
    {
        int channels = input.Shape[^1], rows = (int)(input.Value.Length / channels);
        var output = Output(input.RequiresGradient || weight.RequiresGradient || bias.RequiresGradient, input.Shape);
        var mean = Arena.AllocateUninitialized(rows);
        var rstd = Arena.AllocateUninitialized(rows);
        LayerNormKernels.Forward(output.Value.Pointer, mean.Pointer, rstd.Pointer, input.Value.Pointer, weight.Value.Pointer,
            bias.Value.Pointer, rows, channels, epsilon);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                LayerNormKernels.Backward(GradientOrNull(input), GradientOrNull(weight), GradientOrNull(bias), output.Gradient.Pointer,
                    input.Value.Pointer, weight.Value.Pointer, mean.Pointer, rstd.Pointer, rows, channels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>[N, out] = [N, in]·W[in, out] + b (Conv1D layout).</summary>
    public Node Linear(Node input, Node weight, Node? bias)
    {
        int inputChannels = weight.Shape[0], outputChannels = weight.Shape[1];
        int rows = (int)(input.Value.Length / inputChannels);
        var output = Output(input.RequiresGradient || weight.RequiresGradient || (bias?.RequiresGradient ?? false), rows, outputChannels);
        Fresh(output);
        LinearKernels.Forward(output.Value.Pointer, input.Value.Pointer, weight.Value.Pointer,
            bias is null ? null : bias.Value.Pointer, rows, inputChannels, outputChannels);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                LinearKernels.Backward(GradientOrNull(input), GradientOrNull(weight), bias is null ? null : GradientOrNull(bias),
                    output.Gradient.Pointer, input.Value.Pointer, weight.Value.Pointer, rows, inputChannels, outputChannels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// Linear layer on a frozen packed weight (fp32 or bf16, e.g. a frozen base): [N, out] = input [N, in] · W + bias.
    /// The weight and bias get no gradient; when the input needs one, backward adds dX = dY·Wᵀ read from the same packed
    /// panels (<see cref="PackedMatrix.MultiplyTransposedAdd"/>, fp32 sums).
    /// </summary>
    public Node PackedLinear(Node input, PackedMatrix weight, Node? bias)
    {
        if (Recording && bias is { RequiresGradient: true })
            throw new ArgumentException("A packed linear layer is frozen: its bias cannot be trained.", nameof(bias));
        int rows = (int)(input.Value.Length / weight.K);
        var output = Fresh(Output(input.RequiresGradient, rows, weight.N));
        weight.Multiply(rows, input.Value.Pointer, weight.K, output.Value.Pointer, weight.N, bias is null ? null : bias.Value.Pointer);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                weight.MultiplyTransposedAdd(rows, output.Gradient.Pointer, weight.N, input.Gradient.Pointer, weight.K);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    public Node Gelu(Node input)
    {
        var output = Output(input.RequiresGradient, input.Shape);
        GeluKernels.Forward(output.Value.Pointer, input.Value.Pointer, input.Value.Length);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                GeluKernels.Backward(input.Gradient.Pointer, input.Value.Pointer, output.Gradient.Pointer, input.Value.Length);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>factor · input (e.g. 1/temperature on the input of <see cref="LinearLogProbs"/>).</summary>
    public Node Scale(Node input, float factor)
    {
        var output = Output(input.RequiresGradient, input.Shape);
        ScaleKernels.Forward(output.Value.Pointer, input.Value.Pointer, factor, input.Value.Length);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                ScaleKernels.Forward(input.Gradient.Pointer, output.Gradient.Pointer, factor, input.Value.Length, accumulate: true);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    public Node Add(Node a, Node b)
    {
        var output = Output(a.RequiresGradient || b.RequiresGradient, a.Shape);
        ResidualKernels.Forward(output.Value.Pointer, a.Value.Pointer, b.Value.Pointer, a.Value.Length);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                if (a.RequiresGradient) ResidualKernels.Accumulate(a.Gradient.Pointer, output.Gradient.Pointer, a.Value.Length);
                if (b.RequiresGradient) ResidualKernels.Accumulate(b.Gradient.Pointer, output.Gradient.Pointer, b.Value.Length);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// Causal multi-head self-attention. qkv [B·T, 3C] → [B·T, C]; keyMask [B, T] (1 real, 0 padding) or null.
    /// </summary>
    public Node Attention(Node qkv, Tensor? keyMask, int batch, int tokens, int heads)
    {
        int channels = qkv.Shape[^1] / 3;
        var output = Output(qkv.RequiresGradient, batch * tokens, channels);
        var logSumExp = output.RequiresGradient ? Arena.AllocateUninitialized(batch, heads, tokens) : null; // not the probabilities
        float* mask = keyMask is null ? null : keyMask.Pointer;
        AttentionKernels.Forward(output.Value.Pointer, logSumExp is null ? null : logSumExp.Pointer, qkv.Value.Pointer, mask, batch, tokens, channels, heads);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                AttentionKernels.Backward(qkv.Gradient.Pointer, output.Gradient.Pointer, qkv.Value.Pointer, logSumExp!.Pointer,
                    keyMask is null ? null : keyMask.Pointer, batch, tokens, channels, heads);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>One vector per sequence: [B·T, C] pooled with weights [B, T] (one-hot for last/first token, 1/n for mean) → [B, C].</summary>
    public Node Pool(Node input, Tensor weights, int batch, int tokens)
    {
        int channels = input.Shape[^1];
        var output = Output(input.RequiresGradient, batch, channels);
        PoolingKernels.Forward(output.Value.Pointer, input.Value.Pointer, weights.Pointer, batch, tokens, channels);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                PoolingKernels.Backward(input.Gradient.Pointer, output.Gradient.Pointer, weights.Pointer, batch, tokens, channels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// Inference-only attention of n new tokens over a KV cache ([B·n, 3C] → [B·n, C]); keys and values are
    /// appended at slots [start, start + n). Tensors are passed raw because the cache lives outside the arena.
    /// </summary>
    public Node CachedAttention(Node qkv, Tensor keyCache, Tensor valueCache, Tensor keyMask, int batch, int newTokens, int start, int heads)
    {
        if (Recording && qkv.RequiresGradient) throw new InvalidOperationException("Cached attention is for inference; disable the tape.");
        int channels = qkv.Shape[^1] / 3, capacity = keyMask.Shape[1];
        var output = Output(false, batch * newTokens, channels);
        CachedAttentionKernels.Forward(output.Value.Pointer, qkv.Value.Pointer, keyCache.Pointer, valueCache.Pointer, keyMask.Pointer,
            batch, newTokens, start, capacity, channels, heads);
        return output;
    }

    /// <summary>
    /// Log-probabilities of targets under a linear map then softmax: logp[n] = log softmax(hidden[n]·Wᵀ)[target[n]]
    /// (0 where target is negative). hidden [N, C], weight [V, C] (nn.Linear layout) → [N].
    /// </summary>
    /// <param name="entropy">When given ([N]), receives each row's entropy −Σ p·log p (no gradient).</param>
    public Node LinearLogProbs(Node hidden, Node weight, int[] targets, Tensor? entropy = null)
    {
        int rows = targets.Length, channels = hidden.Shape[^1], vocab = weight.Shape[0];
        var output = Output(hidden.RequiresGradient || weight.RequiresGradient, rows);
        var logSumExp = Arena.AllocateUninitialized(rows);
        var scratch = Arena.AllocateUninitialized(checked((int)LinearSoftmaxKernels.ScratchLength(rows, channels, vocab)));
        if (output.RequiresGradient && !weight.RequiresGradient)
            return LinearLogProbsFrozenWeight(output, hidden, weight, targets, entropy, logSumExp, scratch);
        fixed (int* target = targets)
            LinearSoftmaxKernels.Forward(output.Value.Pointer, logSumExp.Pointer, hidden.Value.Pointer, weight.Value.Pointer, target,
                rows, channels, vocab, scratch.Pointer, entropy: entropy is null ? null : entropy.Pointer);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                fixed (int* target = targets)
                    LinearSoftmaxKernels.Backward(GradientOrNull(hidden), GradientOrNull(weight), output.Gradient.Pointer, hidden.Value.Pointer,
                        weight.Value.Pointer, target, logSumExp.Pointer, rows, channels, vocab, scratch.Pointer);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// <see cref="LinearLogProbs"/> with a frozen weight (an LM head under LoRA): ∂logp_n/∂h_n = W[target_n] − Σ_v
    /// softmax[n, v]·W[v] does not depend on the loss, so the forward computes it while each chunk's logits are at hand
    /// and the backward only scales it by ∂L/∂logp_n (no second pass over the vocabulary).
    /// </summary>
    private Node LinearLogProbsFrozenWeight(Node output, Node hidden, Node weight, int[] targets, Tensor? entropy, Tensor logSumExp, Tensor scratch)
    {
        int rows = targets.Length, channels = hidden.Shape[^1], vocab = weight.Shape[0];
        var direction = Arena.Allocate(rows, channels);
        var minusOne = new float[rows];
        Array.Fill(minusOne, -1f); // "loss" −Σ(−1)·logp: its hidden gradient is Σ_n ∂logp_n/∂h_n
        fixed (int* target = targets)
        fixed (float* rowWeight = minusOne)
            LinearSoftmaxKernels.Forward(output.Value.Pointer, logSumExp.Pointer, hidden.Value.Pointer, weight.Value.Pointer, target,
                rows, channels, vocab, scratch.Pointer, rowWeight, direction.Pointer, null, entropy is null ? null : entropy.Pointer);
        Tape.Record(() =>
        {
            fixed (int* target = targets)
                LinearSoftmaxKernels.ScaleRowsInto(hidden.Gradient.Pointer, direction.Pointer, output.Gradient.Pointer, target, rows, channels);
            output.ReleaseGradient();
        });
        return output;
    }

    /// <summary>
    /// Weighted cross-entropy of <see cref="LinearLogProbs"/>: loss = −Σₙ w[n]·logp[n] (a scalar [1]). Because the
    /// weights are known up front, the gradient is computed in the same pass as the forward (no logits
    /// recomputation); the recorded backward step only checks that the loss was the root of backward.
    /// </summary>
    public Node LinearCrossEntropy(Node hidden, Node weight, int[] targets, float[] weights)
    {
        if (weights.Length != targets.Length) throw new ArgumentException("One weight per target is needed.", nameof(weights));
        int rows = targets.Length, channels = hidden.Shape[^1], vocab = weight.Shape[0];
        var loss = Output(hidden.RequiresGradient || weight.RequiresGradient, 1);
        var logProbs = Arena.AllocateUninitialized(rows);
        var logSumExp = Arena.AllocateUninitialized(rows);
        var scratch = Arena.AllocateUninitialized(checked((int)LinearSoftmaxKernels.ScratchLength(rows, channels, vocab)));
        bool eager = loss.RequiresGradient;
        fixed (int* target = targets)
        fixed (float* rowWeight = weights)
        {
            LinearSoftmaxKernels.Forward(logProbs.Pointer, logSumExp.Pointer, hidden.Value.Pointer, weight.Value.Pointer, target,
                rows, channels, vocab, scratch.Pointer,
                eager ? rowWeight : null, eager ? GradientOrNull(hidden) : null, eager ? GradientOrNull(weight) : null);
        }
        double total = 0;
        for (int n = 0; n < rows; n++) total -= (double)weights[n] * logProbs.Pointer[n];
        loss.Value.Pointer[0] = (float)total;
        if (eager)
        {
            loss.Gradient.Pointer[0] = 1f;
            Tape.Record(() =>
            {
                if (loss.Gradient.Pointer[0] != 1f)
                    throw new InvalidOperationException("A fused cross-entropy loss must be the root of backward with gradient 1; scale its weights instead.");
                loss.ReleaseGradient();
            });
        }
        return loss;
    }

    private static float* GradientOrNull(Node node) => node.RequiresGradient ? node.Gradient.Pointer : null;
}
