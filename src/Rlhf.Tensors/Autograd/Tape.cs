// Reverse-mode tape: ops record a backward step as they run; Backward replays them in reverse.
namespace Rlhf.Tensors;

internal sealed class Tape
{
    private readonly List<Action> backwardSteps = [];

    /// <summary>When false (inference), ops record nothing and keep no state for backward.</summary>
    public bool Enabled { get; set; } = true;

    public int Count => backwardSteps.Count;

    public void Record(Action backward)
    {
        if (Enabled) backwardSteps.Add(backward);
    }

    /// <summary>Runs every recorded backward step, last first, then forgets them.</summary>
    public void Backward()
    {
        for (int i = backwardSteps.Count - 1; i >= 0; i--) backwardSteps[i]();
        backwardSteps.Clear();
    }

    public void Clear() => backwardSteps.Clear();
}
