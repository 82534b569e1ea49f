// Gradient checkpointing of one transformer block (transformers' gradient_checkpointing): the block runs through
// Ops.Checkpoint, so backward recomputes it instead of keeping its activations.
using Rlhf.Tensors;

namespace Rlhf.Models;

internal static class BlockCheckpoint
{
    /// <summary>
    /// block(ops, x, layer) as a checkpointed segment. <paramref name="random"/>: the generator the block's dropout
    /// draws from, if any (its state is replayed in the recomputation).
    /// </summary>
    public static Node Run(Ops ops, Node x, int layer, Func<Ops, Node, int, Node> block, Rng? random = null) =>
        ops.Checkpoint((segmentOps, inputs) => block(segmentOps, inputs[0], layer), [x], random);
}
