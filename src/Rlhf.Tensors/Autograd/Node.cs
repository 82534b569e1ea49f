// A value in the computation graph: its tensor and, when it needs one, its gradient.
namespace Rlhf.Tensors;

/// <summary>
/// A tensor flowing through a <see cref="Tape"/>-recorded computation. The gradient is allocated
/// (zeroed, from the step's arena) the first time a backward step adds into it.
/// </summary>
internal sealed class Node
{
    private readonly Arena? arena;
    private Tensor? gradient;

    public Tensor Value { get; }

    /// <summary>False for inputs and frozen weights: no backward step writes their gradient.</summary>
    public bool RequiresGradient { get; }

    internal Node(Tensor value, bool requiresGradient, Arena? arena, Tensor? gradient = null)
    {
        Value = value;
        RequiresGradient = requiresGradient;
        this.arena = arena;
        this.gradient = gradient;
        ownsGradient = gradient is null;
    }

    private readonly bool ownsGradient;

    /// <summary>The gradient of the loss with respect to <see cref="Value"/>, allocated zeroed on first use.</summary>
    public Tensor Gradient => gradient ??= arena is not null
        ? arena.Allocate(Value.Shape)
        : throw new InvalidOperationException("This node has no gradient storage.");

    /// <summary>
    /// Hands the gradient back to the arena once the backward step that consumed it has run
    /// (only for arena-owned gradients; parameter gradients are never released).
    /// </summary>
    internal void ReleaseGradient()
    {
        if (gradient is not null && ownsGradient) arena!.Recycle(gradient);
        gradient = null;
    }

    public int[] Shape => Value.Shape;
}
