// Differentiable ops of the rotary-embedding decoder families (transformers' Llama, Qwen2): token-only embedding,
// nn.Linear layout, RMSNorm and the SwiGLU gate. Same contract as the rest of Ops (forward now, backward recorded).
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    /// <summary>[N, C] = tokenTable[tokenIds] (no learned positions: rotary models add positions inside attention).</summary>
    public Node TokenEmbedding(Node tokenTable, int[] tokenIds)
    {
        int count = tokenIds.Length, channels = tokenTable.Shape[1];
        var output = Output(tokenTable.RequiresGradient, count, channels);
        fixed (int* tokens = tokenIds)
            EmbeddingKernels.ForwardTokens(output.Value.Pointer, tokens, tokenTable.Value.Pointer, count, channels);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                fixed (int* tokens = tokenIds)
                    EmbeddingKernels.BackwardTokens(tokenTable.Gradient.Pointer, output.Gradient.Pointer, tokens, count, channels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// [N, out] = [N, in]·Wᵀ + b with W [out, in] (torch.nn.Linear layout, the weights of Llama/Qwen2 checkpoints).
    /// For inference, pack W with <see cref="PackedMatrix.FromTransposed"/> (n = out, k = in) and use <see cref="PackedLinear"/>.
    /// </summary>
    public Node LinearOutIn(Node input, Node weight, Node? bias)
    {
        int outputChannels = weight.Shape[0], inputChannels = weight.Shape[1];
        if (input.Shape[^1] != inputChannels)
            throw new ArgumentException($"The input's last dimension ({input.Shape[^1]}) differs from the weight's in-features ({inputChannels}).", nameof(input));
        int rows = (int)(input.Value.Length / inputChannels);
        var output = Output(input.RequiresGradient || weight.RequiresGradient || (bias?.RequiresGradient ?? false), rows, outputChannels);
        Fresh(output);
        LinearKernels.ForwardOutIn(output.Value.Pointer, input.Value.Pointer, weight.Value.Pointer,
            bias is null ? null : bias.Value.Pointer, rows, inputChannels, outputChannels);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                LinearKernels.BackwardOutIn(GradientOrNull(input), GradientOrNull(weight), bias is null ? null : GradientOrNull(bias),
                    output.Gradient.Pointer, input.Value.Pointer, weight.Value.Pointer, rows, inputChannels, outputChannels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>RMSNorm over the last axis of [N, C]: x / √(mean(x²) + ε) · w (transformers' LlamaRMSNorm, fp32 statistics).</summary>
    public Node RmsNorm(Node input, Node weight, float epsilon)
    {
        int channels = input.Shape[^1], rows = (int)(input.Value.Length / channels);
        var output = Output(input.RequiresGradient || weight.RequiresGradient, input.Shape);
        var rstd = Arena.AllocateUninitialized(rows);
        RmsNormKernels.Forward(output.Value.Pointer, rstd.Pointer, input.Value.Pointer, weight.Value.Pointer, rows, channels, epsilon);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                RmsNormKernels.Backward(GradientOrNull(input), GradientOrNull(weight), output.Gradient.Pointer, input.Value.Pointer,
                    weight.Value.Pointer, rstd.Pointer, rows, channels);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>silu(gate)·up, elementwise over equal shapes (the Llama MLP's gate; SiLU = x·σ(x)).</summary>
    public Node SwiGlu(Node gate, Node up)
    {
        if (gate.Value.Length != up.Value.Length)
            throw new ArgumentException($"gate ({gate.Value.Length} values) and up ({up.Value.Length} values) must have the same size.", nameof(up));
        var output = Output(gate.RequiresGradient || up.RequiresGradient, gate.Shape);
        SwiGluKernels.Forward(output.Value.Pointer, gate.Value.Pointer, up.Value.Pointer, gate.Value.Length);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                SwiGluKernels.Backward(GradientOrNull(gate), GradientOrNull(up), output.Gradient.Pointer, gate.Value.Pointer, up.Value.Pointer,
                    gate.Value.Length);
                output.ReleaseGradient();
            });
        }
        return output;
    }
}
