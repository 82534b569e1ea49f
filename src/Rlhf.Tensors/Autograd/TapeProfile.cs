// Time per op kind of a taped step (for `rlhf bench train --breakdown`): an op's forward is the time from the
// previous recorded step to its own Record call, its backward the time of its recorded step. Ops are named by the method
// that recorded the step (the lambda's enclosing method, e.g. RmsNorm), so no op needs to know about profiling.
using System.Diagnostics;

namespace Rlhf.Tensors;

/// <param name="clock">Milliseconds on some clock (default: wall time); e.g. the thread's CPU time for a one-thread run on a shared machine.</param>
internal sealed class TapeProfile(Func<double>? clock = null)
{
    private readonly Dictionary<System.Reflection.MethodInfo, string> names = [];
    private readonly Dictionary<string, (double Forward, double Backward, int Count)> totals = new(StringComparer.Ordinal);
    private readonly Func<double> now = clock ?? (() => Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency);
    private double last;

    /// <summary>Per op kind: forward and backward milliseconds and recorded steps, summed since the last <see cref="Clear"/>.</summary>
    public IReadOnlyDictionary<string, (double Forward, double Backward, int Count)> Totals => totals;

    /// <summary>The profile's clock, in milliseconds.</summary>
    public double Now() => now();

    /// <summary>Starts the forward clock (the time before an op's Record call is its forward).</summary>
    public void Restart() => last = now();

    public void Clear() => totals.Clear();

    internal void Recorded(Action backward)
    {
        double time = now();
        var name = NameOf(backward);
        var (f, b, n) = totals.GetValueOrDefault(name);
        totals[name] = (f + time - last, b, n + 1);
        last = now();
    }

    internal void RunTimed(Action backward)
    {
        double start = now();
        backward();
        double time = now() - start;
        var name = NameOf(backward);
        var (f, b, n) = totals.GetValueOrDefault(name);
        totals[name] = (f, b + time, n);
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
