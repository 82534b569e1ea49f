// A quick look at a data file for `rlhf data inspect`: compression, layout, detected format, rows, fields, bad rows.
using System.Text;

namespace Rlhf.Data;

/// <summary>What <see cref="DataInspector.Inspect"/> found. <see cref="Format"/> is <see cref="DataFormat.Auto"/> when undetectable.</summary>
internal sealed record DataFileSummary(
    string Path, bool IsGzip, DataFileLayout Layout, DataFormat Format, int Rows,
    IReadOnlyList<KeyValuePair<string, int>> FieldCounts, DataReport Report)
{
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"file:    {Path}");
        sb.AppendLine($"layout:  {Layout switch { DataFileLayout.JsonArray => "JSON array", DataFileLayout.Parquet => "Parquet", _ => "JSON Lines" }}{(IsGzip ? ", gzip" : "")}");
        sb.AppendLine($"format:  {(Format == DataFormat.Auto ? "unknown" : Format.ToString())}");
        sb.AppendLine($"rows:    {Rows:N0} good, {Report.BadRows:N0} bad");
        sb.AppendLine("fields:  " + string.Join(", ", FieldCounts.Select(kv => $"{kv.Key} ({kv.Value:N0})")));
        foreach (var d in Report.Drops)
            sb.AppendLine($"  bad row: {d.Reason} ×{d.Count:N0}, first at {d.FirstLocation}");
        return sb.ToString();
    }
}

internal static class DataInspector
{
    /// <summary>Reads up to <paramref name="maxRows"/> good rows (all when null), skipping and counting bad ones.</summary>
    public static DataFileSummary Inspect(string path, int? maxRows = null)
    {
        var report = new DataReport { Source = path };
        var layout = DataRowReader.DetectLayout(path);
        var fields = new Dictionary<string, int>(StringComparer.Ordinal);
        var format = DataFormat.Auto;
        int rows = 0;
        foreach (var row in DataRowReader.Read(path, skipBadRows: true, report))
        {
            if (format == DataFormat.Auto)
            {
                try
                {
                    format = DataFormats.Detect(row);
                }
                catch (DataFormatException)
                {
                }
            }
            foreach (var p in row.Value.EnumerateObject())
                fields[p.Name] = fields.GetValueOrDefault(p.Name) + 1;
            if (++rows == maxRows)
                break;
        }
        return new DataFileSummary(path, DataRowReader.IsGzip(path), layout, format, rows,
            fields.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList(), report);
    }
}
