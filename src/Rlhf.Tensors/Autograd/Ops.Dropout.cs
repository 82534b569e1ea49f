// Dropout on the tape (torch.nn.functional.dropout in training mode): a fresh mask per call, drawn from the given Rng.
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal sealed unsafe partial class Ops
{
    /// <summary>Inverted dropout with a mask drawn from a generator seeded with <paramref name="seed"/> (same seed, same mask).</summary>
    public Node Dropout(Node input, float probability, ulong seed) => Dropout(input, probability, new Rng(seed));

    /// <summary>
    /// Inverted dropout: each value zeroed with probability <paramref name="probability"/>, the rest scaled by 1/(1 − p).
    /// p = 0 returns the input itself. The mask comes from <paramref name="random"/> (pass the same generator to
    /// <see cref="Checkpoint"/> so a recomputed segment draws the same mask).
    /// </summary>
    public Node Dropout(Node input, float probability, Rng random)
    {
        if (!(probability >= 0f && probability < 1f)) throw new ArgumentOutOfRangeException(nameof(probability), $"Dropout probability {probability} is outside [0, 1).");
        if (probability == 0f) return input;
        long count = input.Value.Length;
        var output = Output(input.RequiresGradient, input.Shape);
        var mask = Arena.AllocateUninitialized(input.Shape);
        DropoutKernels.FillMask(mask.Pointer, count, probability, random);
        DropoutKernels.Multiply(output.Value.Pointer, input.Value.Pointer, mask.Pointer, count);
        if (output.RequiresGradient)
        {
            Tape.Record(() =>
            {
                DropoutKernels.Multiply(input.Gradient.Pointer, output.Gradient.Pointer, mask.Pointer, count, accumulate: true);
                output.ReleaseGradient();
            });
        }
        return output;
    }
}
