// Dropout on the tape (torch.nn.functional.dropout in training mode): the mask is a function of a seed (DropoutMask),
// recomputed in backward, never stored.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    /// <summary>
    /// Inverted dropout with the mask of <paramref name="seed"/>: each value zeroed with probability
    /// <paramref name="probability"/>, the rest scaled by 1/(1 − p); same seed, same mask. p = 0 returns the input itself.
    /// Backward regenerates the mask from the seed (nothing but the seed is kept).
    /// </summary>
    public Node Dropout(Node input, float probability, ulong seed)
    {
        var mask = new DropoutMask(probability, seed);
        if (!mask.Enabled) return input;
        long count = input.Value.Length;
        var output = Output(input.RequiresGradient, input.Shape);
        DropoutKernels.Multiply(output.Value.Pointer, input.Value.Pointer, count, mask);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                DropoutKernels.Multiply(input.Gradient.Pointer, output.Gradient.Pointer, count, mask, accumulate: true);
                output.ReleaseGradient();
            });
        }
        return output;
    }

    /// <summary>
    /// Inverted dropout whose seed is the next draw of <paramref name="random"/> (pass the same generator to
    /// <see cref="Checkpoint"/> so a recomputed segment draws the same mask). p = 0 draws nothing and returns the input.
    /// </summary>
    public Node Dropout(Node input, float probability, Rng random)
    {
        if (!(probability >= 0f && probability < 1f)) throw new ArgumentOutOfRangeException(nameof(probability), $"Dropout probability {probability} is outside [0, 1).");
        return probability == 0f ? input : Dropout(input, probability, random.NextUInt64());
    }
}
