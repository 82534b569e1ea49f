// Appends one JSON object per line to metrics.jsonl, flushed at once (a crash keeps every line written).
using System.Text.Json;

namespace Rlhf.Training;

public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter writer;

    public MetricsLog(string path)
    {
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    public void Append(IReadOnlyDictionary<string, double> entry)
    {
        writer.WriteLine(JsonSerializer.Serialize(entry.ToDictionary(kv => kv.Key, kv => (object)Round(kv.Value))));
        writer.Flush();
    }

    private static object Round(double value) => double.IsFinite(value) ? Math.Round(value, 8) : value.ToString();

    public void Dispose() => writer.Dispose();
}
