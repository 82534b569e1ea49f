// Appends one JSON object per line to metrics.jsonl, flushed at once (a crash keeps every line written).
using System.Text.Json;

namespace Rlhf.Training;

internal sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter writer;

    /// <param name="keepThroughStep">Resuming: keep the lines up to this step (later ones belong to the interrupted
    /// run's lost steps and would be logged twice); null: a fresh run, the file starts empty.</param>
    public MetricsLog(string path, int? keepThroughStep = null)
    {
        if (keepThroughStep is null) File.Delete(path);
        else if (File.Exists(path))
        {
            var kept = File.ReadAllLines(path).Where(line => StepOf(line) is not int step || step <= keepThroughStep).ToArray();
            Rlhf.Models.AtomicFile.Write(path, stream =>
            {
                using var text = new StreamWriter(stream, leaveOpen: true);
                foreach (var line in kept) text.WriteLine(line);
            });
        }
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    private static int? StepOf(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("step", out var step) && step.TryGetInt32(out int value) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Append(IReadOnlyDictionary<string, double> entry)
    {
        writer.WriteLine(JsonSerializer.Serialize(entry.ToDictionary(kv => kv.Key, kv => (object)Round(kv.Value))));
        writer.Flush();
    }

    private static object Round(double value) => double.IsFinite(value) ? Math.Round(value, 8) : value.ToString();

    public void Dispose() => writer.Dispose();
}
