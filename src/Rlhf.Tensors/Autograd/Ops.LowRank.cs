// A low-rank update of a linear layer's output on the tape, fused (LoRA, Hu et al. 2021; PEFT lora.Linear.forward:
// result + lora_B(lora_A(dropout(x)))·scaling). One op instead of dropout, two linears, a scale and an add: no mask,
// no dropped-input copy and no [N, out] intermediates are stored, only low = drop(x)·Aᵀ [N, r] and the mask's bits.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    // The output of the last Linear/LinearOutIn/PackedLinear when no op has made an output since (Output clears it):
    // such an output has been read by no other op yet, and its producer's backward reads only its input and weight
    // (never its own output), so a low-rank update may be added into its value in place.
    private Node? freshLinearOutput;

    /// <summary>
    /// y = base + scale·(dropout(x)·Aᵀ)·Bᵀ, with <paramref name="baseOutput"/> [N, out] a linear layer's output on
    /// <paramref name="input"/> x [N, in], A [r, in], B [out, r]; dropout (probability <paramref name="dropout"/>, mask
    /// of <paramref name="seed"/> as <see cref="Dropout(Node, float, ulong)"/> draws it) only on the update's input.
    /// When <paramref name="baseOutput"/> is the output of the linear op this Ops ran last, with no op after it, the
    /// update is added into its value in place (so it must not be used as the base's value afterwards), and the same
    /// node is returned when it needs a gradient (the update's backward reads that gradient and leaves it to the
    /// linear's backward, which runs after it). Otherwise the sum is a new tensor. Backward: dB += s·gᵀ·low,
    /// dlow = s·g·B, dA += dlowᵀ·drop(x), dx += mask·(dlow·A), the mask read from the bits forward stored.
    /// </summary>
    public Node LowRankUpdate(Node baseOutput, Node input, Node a, Node b, float scale, float dropout, ulong seed)
    {
        int rank = a.Shape[0], inputs = a.Shape[1], outputs = b.Shape[0];
        if (a.Shape.Length != 2 || b.Shape.Length != 2 || b.Shape[1] != rank)
            throw new ArgumentException($"A [{string.Join(", ", a.Shape)}] and B [{string.Join(", ", b.Shape)}] are not [r, in] and [out, r].", nameof(b));
        if (input.Shape[^1] != inputs || baseOutput.Shape[^1] != outputs)
            throw new ArgumentException($"The input's last dimension ({input.Shape[^1]}) and the output's ({baseOutput.Shape[^1]}) do not match A's in ({inputs}) and B's out ({outputs}).", nameof(input));
        int rows = (int)(input.Value.Length / inputs);
        if (baseOutput.Value.Length != (long)rows * outputs)
            throw new ArgumentException($"The base output holds {baseOutput.Value.Length} values, not {rows} rows of {outputs}.", nameof(baseOutput));
        var mask = new DropoutMask(dropout, seed);

        bool inPlace = ReferenceEquals(baseOutput, freshLinearOutput);
        bool update = Recording && (input.RequiresGradient || a.RequiresGradient || b.RequiresGradient);
        Node output;
        if (!inPlace)
        {
            output = Output(baseOutput.RequiresGradient || update, baseOutput.Shape);
            output.Value.CopyFrom(baseOutput.Value);
        }
        else output = baseOutput.RequiresGradient || !update ? baseOutput : new Node(baseOutput.Value, true, Arena);
        freshLinearOutput = null;
        if (update) mask = StoredMask(mask, (long)rows * inputs);
        var low = Arena.AllocateUninitialized(rows, rank);
        LowRankKernels.Forward(output.Value.Pointer, low.Pointer, input.Value.Pointer, a.Value.Pointer, b.Value.Pointer,
            rows, inputs, outputs, rank, scale, mask);
        bool sharesGradient = ReferenceEquals(output, baseOutput);
        if (!output.RequiresGradient || (sharesGradient && !update)) return output;

        Tape.Record(() =>
        {
            var gradient = output.Gradient;
            if (update)
                LowRankKernels.Backward(GradientOrNull(input), GradientOrNull(a), GradientOrNull(b), gradient.Pointer, low.Pointer,
                    input.Value.Pointer, a.Value.Pointer, b.Value.Pointer, rows, inputs, outputs, rank, scale, mask);
            if (sharesGradient) return; // the base linear's backward reads this gradient next, and releases it
            if (baseOutput.RequiresGradient) ResidualKernels.Accumulate(baseOutput.Gradient.Pointer, gradient.Pointer, gradient.Length);
            output.ReleaseGradient();
        });
        return output;
    }
}
