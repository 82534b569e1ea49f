// Reverse-mode tape: ops record a backward step as they run; Backward replays them in reverse.
namespace Rlhf.Tensors;

internal sealed class Tape
{
    private readonly List<Action> backwardSteps = [];

    /// <summary>When false (inference), ops record nothing and keep no state for backward.</summary>
    public bool Enabled { get; set; } = true;

    public int Count => backwardSteps.Count;

    /// <summary>When set, times every op's forward and backward (benchmarks only).</summary>
    internal TapeProfile? Profile { get; set; }

    public void Record(Action backward)
    {
        if (!Enabled) return;
        backwardSteps.Add(backward);
        Profile?.Recorded(backward);
    }

    /// <summary>Runs every recorded backward step, last first, then forgets them.</summary>
    public void Backward()
    {
        if (Profile is { } profile)
            for (int i = backwardSteps.Count - 1; i >= 0; i--) profile.RunTimed(backwardSteps[i]);
        else
            for (int i = backwardSteps.Count - 1; i >= 0; i--) backwardSteps[i]();
        backwardSteps.Clear();
    }

    public void Clear() => backwardSteps.Clear();
}
