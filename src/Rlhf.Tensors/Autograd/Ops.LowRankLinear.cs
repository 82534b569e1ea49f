// A linear layer and its LoRA adapter as one op on the tape (LoRA, Hu et al. 2021; PEFT lora.Linear.forward:
// base_layer(x) + lora_B(lora_A(dropout(x)))·scaling): the adapter's products ride inside the base layer's GEMMs
// (LowRankLinearKernels), so neither the output nor the input gradient takes a separate pass for the adapter.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    /// <summary>
    /// y = x·Wᵀ + b + scale·(dropout(x)·Aᵀ)·Bᵀ with x [N, in], W [out, in] (torch.nn.Linear; <paramref name="weightOutIn"/>
    /// false: W [in, out], Conv1D), A [r, in], B [out, r]; dropout (probability <paramref name="dropout"/>, the mask of
    /// <paramref name="seed"/> as <see cref="Dropout(Node, float, ulong)"/> draws it) only on the adapter's input. Equals
    /// <see cref="LinearOutIn"/> (or <see cref="Linear"/>) followed by <see cref="LowRankUpdate"/>. Keeps drop(x)·Aᵀ
    /// [N, r] for backward, and the dropout mask as one bit per element of x.
    /// </summary>
    public Node LowRankLinear(Node input, Node weight, Node? bias, Node a, Node b, float scale, float dropout, ulong seed, bool weightOutIn = true)
    {
        int outputs = weightOutIn ? weight.Shape[0] : weight.Shape[1], inputs = weightOutIn ? weight.Shape[1] : weight.Shape[0];
        int rank = a.Shape[0];
        if (a.Shape.Length != 2 || b.Shape.Length != 2 || a.Shape[1] != inputs || b.Shape[0] != outputs || b.Shape[1] != rank)
            throw new ArgumentException($"A [{string.Join(", ", a.Shape)}] and B [{string.Join(", ", b.Shape)}] are not [r, {inputs}] and [{outputs}, r].", nameof(b));
        if (input.Shape[^1] != inputs)
            throw new ArgumentException($"The input's last dimension ({input.Shape[^1]}) differs from the weight's in-features ({inputs}).", nameof(input));
        int rows = (int)(input.Value.Length / inputs);
        var mask = new DropoutMask(dropout, seed);
        var output = Output(input.RequiresGradient || weight.RequiresGradient || (bias?.RequiresGradient ?? false) || a.RequiresGradient || b.RequiresGradient,
            rows, outputs);
        if (output.RequiresGradient) mask = StoredMask(mask, (long)rows * inputs);
        var low = Arena.AllocateUninitialized(rows, rank);
        LowRankLinearKernels.Forward(output.Value.Pointer, low.Pointer, input.Value.Pointer, weight.Value.Pointer, bias is null ? null : bias.Value.Pointer,
            a.Value.Pointer, b.Value.Pointer, rows, inputs, outputs, rank, scale, mask, weightOutIn);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                LowRankLinearKernels.Backward(GradientOrNull(input), GradientOrNull(weight), bias is null ? null : GradientOrNull(bias),
                    GradientOrNull(a), GradientOrNull(b), output.Gradient.Pointer, input.Value.Pointer, weight.Value.Pointer, low.Pointer,
                    a.Value.Pointer, b.Value.Pointer, rows, inputs, outputs, rank, scale, mask, weightOutIn);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// The mask with its bits stored in the arena (one pass of the hash, then forward and backward read bits): for the
    /// ops whose backward reads the mask again. A disabled mask as it is.
    /// </summary>
    private DropoutMask StoredMask(DropoutMask mask, long count)
    {
        if (!mask.Enabled) return mask;
        var bits = Arena.AllocateUninitialized((int)((DropoutMask.StoredBytes(count) + 3) / 4));
        DropoutKernels.StoreBits((ushort*)bits.Pointer, count, mask);
        return mask.Stored((ushort*)bits.Pointer);
    }
}
