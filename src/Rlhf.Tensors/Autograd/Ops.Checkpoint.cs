// Activation (gradient) checkpointing on the tape (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost";
// torch.utils.checkpoint): a segment's forward keeps only its output; backward recomputes the segment on a sub-tape
// and back-propagates through it.
namespace Rlhf.Tensors;

internal sealed partial class Ops
{
    /// <summary>
    /// Runs <paramref name="segment"/> on <paramref name="inputs"/> keeping only its output: the segment's intermediates
    /// live in the arena's segment arena while it runs and are dropped; when backward reaches the output, the segment
    /// runs again from the same inputs (and, when given, the same <paramref name="random"/> state, so dropout masks
    /// repeat) on a sub-tape, whose backward then adds into the inputs' and parameters' gradients in the same order as
    /// without checkpointing, so the gradients are the same bit for bit. The segment must be a pure function of its
    /// inputs, the parameters it reads and <paramref name="random"/>, and must return a node it computed. With the tape
    /// disabled (inference) the segment runs once in the segment arena and only its output is kept, so a forward of
    /// many segments needs memory for their outputs plus one segment's intermediates.
    /// </summary>
    public Node Checkpoint(Func<Ops, IReadOnlyList<Node>, Node> segment, IReadOnlyList<Node> inputs, Rng? random = null)
    {
        var scratch = Arena.Segment;
        if (!Recording)
        {
            var result = segment(new Ops(scratch, Tape), Detach(inputs, scratch, withGradients: false));
            var kept = Output(false, result.Shape);
            kept.Value.CopyFrom(result.Value);
            scratch.Reset();
            return kept;
        }
        var start = random?.GetState();

        // Forward exactly as the recomputation will run it (sub-tape on), so both produce the same values.
        var forwardTape = new Tape();
        var computed = segment(new Ops(scratch, forwardTape), Detach(inputs, scratch, withGradients: false));
        var output = Output(computed.RequiresGradient, computed.Shape);
        output.Value.CopyFrom(computed.Value);
        forwardTape.Clear();
        scratch.Reset();
        if (!output.RequiresGradient) return output;

        Tape.Record(() =>
        {
            var resume = random?.GetState();
            if (start is not null) random!.SetState(start);
            var subTape = new Tape();
            var recomputed = segment(new Ops(scratch, subTape), Detach(inputs, scratch, withGradients: true));
            if (ReferenceEquals(recomputed.Value, output.Value) || !recomputed.RequiresGradient)
                throw new InvalidOperationException("A checkpointed segment must compute its output from its inputs or parameters.");
            recomputed.Gradient.CopyFrom(output.Gradient);
            subTape.Backward();
            output.ReleaseGradient();
            scratch.Reset();
            if (resume is not null) random!.SetState(resume);
        });
        return output;
    }

    // The segment sees its inputs as fresh nodes over the same values; in backward they add straight into the outer
    // nodes' gradients (no copy, same summation order as an uncheckpointed backward).
    private static Node[] Detach(IReadOnlyList<Node> inputs, Arena scratch, bool withGradients)
    {
        var detached = new Node[inputs.Count];
        for (int i = 0; i < detached.Length; i++)
        {
            var input = inputs[i];
            detached[i] = new Node(input.Value, input.RequiresGradient, scratch,
                withGradients && input.RequiresGradient ? input.Gradient : null);
        }
        return detached;
    }
}
