// Wall-clock time per op kind of a taped step (for `rlhf bench train --breakdown`): an op's forward is the time from the
// previous recorded step to its own Record call, its backward the time of its recorded step. Ops are named by the method
// that recorded the step (the lambda's enclosing method, e.g. RmsNorm), so no op needs to know about profiling.
using System.Diagnostics;

namespace Rlhf.Tensors;

internal sealed class TapeProfile
{
    private readonly Dictionary<System.Reflection.MethodInfo, string> names = [];
    private readonly Dictionary<string, (double Forward, double Backward, int Count)> totals = new(StringComparer.Ordinal);
    private long last = Stopwatch.GetTimestamp();

    /// <summary>Per op kind: forward and backward milliseconds and recorded steps, summed since the last <see cref="Clear"/>.</summary>
    public IReadOnlyDictionary<string, (double Forward, double Backward, int Count)> Totals => totals;

    /// <summary>Starts the forward clock (the time before an op's Record call is its forward).</summary>
    public void Restart() => last = Stopwatch.GetTimestamp();

    public void Clear() => totals.Clear();

    internal void Recorded(Action backward)
    {
        long now = Stopwatch.GetTimestamp();
        var name = NameOf(backward);
        var (f, b, n) = totals.GetValueOrDefault(name);
        totals[name] = (f + Stopwatch.GetElapsedTime(last, now).TotalMilliseconds, b, n + 1);
        last = Stopwatch.GetTimestamp();
    }

    internal void RunTimed(Action backward)
    {
        long start = Stopwatch.GetTimestamp();
        backward();
        var name = NameOf(backward);
        var (f, b, n) = totals.GetValueOrDefault(name);
        totals[name] = (f, b + Stopwatch.GetElapsedTime(start).TotalMilliseconds, n);
    }

    /// <summary>"&lt;RmsNorm&gt;b__0" → "RmsNorm"; a named method keeps its name.</summary>
    private string NameOf(Action step)
    {
        if (names.TryGetValue(step.Method, out var name)) return name;
        string raw = step.Method.Name;
        int open = raw.IndexOf('<'), close = raw.IndexOf('>');
        name = open >= 0 && close > open + 1 ? raw[(open + 1)..close] : raw;
        names[step.Method] = name;
        return name;
    }
}
