// Counts for one pass over a data file: surviving rows after each pipeline step and dropped rows by reason.
using System.Globalization;
using System.Text;

namespace Rlhf.Data;

/// <summary>The number of examples left after a pipeline step.</summary>
internal sealed record DataStep(string Name, int Count);

/// <summary>How many rows were dropped for <paramref name="Reason"/>, and where the first one was.</summary>
internal sealed record DropCount(string Reason, int Count, string? FirstLocation, bool IsBadRow);

/// <summary>Standard drop reasons used by the pipelines (bad-row reasons come from <see cref="DataFormatException.Reason"/>).</summary>
internal static class DropReasons
{
    public const string MultiTurn = "multi-turn";
    public const string NoAssistantTurn = "no assistant turn";
    public const string EmptyInstruction = "empty instruction";
    public const string EmptyResponse = "empty response";
    public const string AlreadyLetMeExplain = "answer already starts with 'Let me explain'";
    public const string IdenticalPair = "identical chosen and rejected";
    public const string PromptTooLong = "prompt too long";
    public const string TotalTooLong = "prompt + response too long";
    public const string TextTooLong = "chosen or rejected text too long";
    public const string EmptyText = "no tokens";
    public const string QueryTooLong = "query leaves no room for the response";
}

/// <summary>
/// Accumulates step counts and drop counts. Filled by <see cref="DataRowReader"/> (bad rows, when skipping them) and by
/// the pipelines; <see cref="ToString"/> prints a table like the seed notebook's "160,800 → 48,591".
/// </summary>
internal sealed class DataReport
{
    private readonly List<DataStep> _steps = [];
    private readonly List<string> _dropOrder = [];
    private readonly Dictionary<string, (int Count, string? First, bool IsBad)> _drops = new(StringComparer.Ordinal);

    /// <summary>The input the report is about (a file path), if known.</summary>
    public string? Source { get; set; }

    /// <summary>Steps in order, each with the number of examples that survived it.</summary>
    public IReadOnlyList<DataStep> Steps => _steps;

    private static readonly string[] StepOrder =
    [
        DropReasons.MultiTurn, DropReasons.NoAssistantTurn, DropReasons.EmptyResponse, DropReasons.EmptyInstruction,
        DropReasons.AlreadyLetMeExplain, DropReasons.IdenticalPair, DropReasons.PromptTooLong, DropReasons.TotalTooLong,
        DropReasons.EmptyText, DropReasons.TextTooLong, DropReasons.QueryTooLong,
    ];

    /// <summary>Drop counts: bad rows first (by first occurrence), then the pipeline's reasons in step order.</summary>
    public IReadOnlyList<DropCount> Drops =>
        _dropOrder
            .OrderBy(r => _drops[r].IsBad ? -1 : Array.IndexOf(StepOrder, r) is int i && i >= 0 ? i : StepOrder.Length)
            .Select(r => new DropCount(r, _drops[r].Count, _drops[r].First, _drops[r].IsBad))
            .ToList();

    /// <summary>Rows skipped because they were malformed (all bad-row reasons together).</summary>
    public int BadRows => _drops.Values.Where(d => d.IsBad).Sum(d => d.Count);

    /// <summary>The count for one drop reason (0 when none).</summary>
    public int Dropped(string reason) => _drops.TryGetValue(reason, out var d) ? d.Count : 0;

    /// <summary>The surviving count after the step named <paramref name="name"/>; throws if there is no such step.</summary>
    public int CountAfter(string name) =>
        _steps.FirstOrDefault(s => s.Name == name)?.Count
        ?? throw new KeyNotFoundException($"no step named '{name}'; steps: {string.Join(", ", _steps.Select(s => s.Name))}");

    public void AddStep(string name, int count) => _steps.Add(new DataStep(name, count));

    public void AddDrop(string reason, string? location) => Add(reason, location, isBad: false);

    public void AddBadRow(DataFormatException error) => Add(error.Reason, error.Location, isBad: true);

    private void Add(string reason, string? location, bool isBad)
    {
        if (_drops.TryGetValue(reason, out var d))
            _drops[reason] = (d.Count + 1, d.First ?? location, d.IsBad);
        else
        {
            _drops[reason] = (1, location, isBad);
            _dropOrder.Add(reason);
        }
    }

    /// <summary>A table of steps (count after each, and the change) followed by the drops by reason.</summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (Source is not null)
            sb.Append("data: ").AppendLine(Source);
        int width = Math.Max(12, _steps.Select(s => s.Name.Length).DefaultIfEmpty(0).Max());
        int? previous = null;
        foreach (var step in _steps)
        {
            sb.Append("  ").Append(step.Name.PadRight(width)).Append(' ').Append(step.Count.ToString("N0", inv).PadLeft(10));
            if (previous is int p && p != step.Count)
                sb.Append("  (").Append((step.Count - p).ToString("N0", inv)).Append(')');
            sb.AppendLine();
            previous = step.Count;
        }
        var drops = Drops;
        if (drops.Count > 0)
        {
            sb.AppendLine("dropped:");
            int rw = drops.Max(d => d.Reason.Length + (d.IsBadRow ? 10 : 0));
            foreach (var d in drops)
            {
                string label = d.IsBadRow ? $"bad row: {d.Reason}" : d.Reason;
                sb.Append("  ").Append(label.PadRight(rw)).Append(' ').Append(d.Count.ToString("N0", inv).PadLeft(10));
                if (d.FirstLocation is not null)
                    sb.Append("  first at ").Append(d.FirstLocation);
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }
}
