// Dropout as an op: the mask is drawn from a seed, so a step (and a resumed run) replays it exactly.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    /// <summary>Inverted dropout with probability <paramref name="probability"/> and a mask drawn from <paramref name="seed"/>.</summary>
    public Node Dropout(Node input, float probability, ulong seed)
    {
        if (probability is < 0f or >= 1f) throw new ArgumentOutOfRangeException(nameof(probability), "Dropout probability must be in [0, 1).");
        if (probability == 0f) return input;
        var mask = Arena.AllocateUninitialized(input.Shape);
        DropoutKernels.FillMask(mask.Pointer, mask.Length, probability, seed);
        var output = Output(input.RequiresGradient, input.Shape);
        DropoutKernels.Multiply(output.Value.Pointer, input.Value.Pointer, mask.Pointer, mask.Length, accumulate: false);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                DropoutKernels.Multiply(input.Gradient.Pointer, output.Gradient.Pointer, mask.Pointer, mask.Length, accumulate: true);
                output.ReleaseGradient();
            });
        }
        return output;
    }
}
