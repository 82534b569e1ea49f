// Tests for DataRowReader: layouts, compression, locations, malformed rows and skipping them.
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class DataRowReaderTests
{
    private const string TwoRows = "{\"chosen\":\"a\",\"rejected\":\"b\"}\n\n   \n{\"chosen\":\"c\",\"rejected\":\"d\"}\n";

    [Fact]
    public void JsonLines_IgnoresEmptyLines_AndKeepsLineNumbers()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.jsonl", TwoRows);
        var rows = DataRowReader.Read(path).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal([1, 4], rows.Select(r => r.Number));
        Assert.Equal("c", rows[1].GetString("chosen"));
        Assert.Equal($"{path}:4", rows[1].Location);
        Assert.False(rows[0].IsArrayElement);
    }

    [Fact]
    public void JsonLines_CrLfAndBom()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.jsonl", "\uFEFF{\"a\":\"x\"}\r\n\r\n{\"a\":\"y\"}\r\n");
        var rows = DataRowReader.Read(path).ToList();
        Assert.Equal(["x", "y"], rows.Select(r => r.GetString("a")));
        Assert.Equal([1, 3], rows.Select(r => r.Number));
    }

    [Fact]
    public void GzipJsonLines_ByExtensionAndByMagicBytes()
    {
        using var tmp = new DataTempFolder();
        string gz = tmp.WriteGzip("data.jsonl.gz", TwoRows);
        string disguised = tmp.WriteGzip("data.jsonl", TwoRows); // gzip content without the .gz suffix
        Assert.True(DataRowReader.IsGzip(gz));
        Assert.Equal(2, DataRowReader.Read(gz).Count());
        Assert.Equal([1, 4], DataRowReader.Read(disguised).Select(r => r.Number));
    }

    [Fact]
    public void JsonArray_StreamsElements_WithElementLocations()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.json", "[\n {\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"},\n {\"prompt\":\"q\",\"chosen\":\"c2\",\"rejected\":\"r2\"}\n]");
        var rows = DataRowReader.Read(path).ToList();
        Assert.Equal(2, rows.Count);
        Assert.True(rows[1].IsArrayElement);
        Assert.Equal($"{path}:element 2", rows[1].Location);
        Assert.Equal(DataFileLayout.JsonArray, DataRowReader.DetectLayout(path));
    }

    [Fact]
    public void JsonArray_Gzipped_AndEmpty()
    {
        using var tmp = new DataTempFolder();
        string gz = tmp.WriteGzip("data.json.gz", "[{\"a\":\"1\"},{\"a\":\"2\"},{\"a\":\"3\"}]");
        Assert.Equal(["1", "2", "3"], DataRowReader.Read(gz).Select(r => r.GetString("a")));
        Assert.Empty(DataRowReader.Read(tmp.Write("empty.json", " [ ] ")));
        Assert.Empty(DataRowReader.Read(tmp.Write("empty.jsonl", "")));
    }

    [Fact]
    public void JsonFileHoldingJsonLines_IsReadAsLines()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.json", TwoRows);
        Assert.Equal(DataFileLayout.JsonLines, DataRowReader.DetectLayout(path));
        Assert.Equal(2, DataRowReader.Read(path).Count());
    }

    [Fact]
    public void InvalidJson_ThrowsWithFileAndLine()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.jsonl", "{\"chosen\":\"a\"}\n{\"chosen\": oops}\n");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}:2: invalid JSON (", e.Message);
        Assert.Equal("invalid JSON", e.Reason);
        Assert.Equal($"{path}:2", e.Location);
    }

    [Fact]
    public void NonObjectRow_Throws()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.jsonl", "[1,2]\n");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}:1: row is an array, not a JSON object", e.Message);
    }

    [Fact]
    public void JsonArray_SyntaxErrorAndNonObjectElement()
    {
        using var tmp = new DataTempFolder();
        string broken = tmp.Write("broken.json", "[{\"a\":\"1\"}, {\"a\": }]");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(broken, skipBadRows: true).ToList());
        Assert.StartsWith($"{broken}:element 2: invalid JSON (", e.Message);

        string mixed = tmp.Write("mixed.json", "[{\"a\":\"1\"}, 5, {\"a\":\"3\"}]");
        var e2 = Assert.Throws<DataFormatException>(() => DataRowReader.Read(mixed).ToList());
        Assert.StartsWith($"{mixed}:element 2: row is a number", e2.Message);
        var report = new DataReport();
        Assert.Equal(["1", "3"], DataRowReader.Read(mixed, skipBadRows: true, report).Select(r => r.GetString("a")));
        Assert.Equal(1, report.BadRows);
    }

    [Fact]
    public void SkipBadRows_CountsByReason_WithFirstLocation()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.jsonl", "{\"a\":\"1\"}\nnot json\n\"str\"\n{bad\n{\"a\":\"2\"}\n");
        var report = new DataReport();
        var rows = DataRowReader.Read(path, skipBadRows: true, report).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(3, report.BadRows);
        Assert.Equal(2, report.Dropped("invalid JSON"));
        Assert.Equal(1, report.Dropped("not a JSON object"));
        var invalid = report.Drops.Single(d => d.Reason == "invalid JSON");
        Assert.Equal($"{path}:2", invalid.FirstLocation);
        Assert.True(invalid.IsBadRow);
        Assert.Contains("bad row: invalid JSON", report.ToString());
    }

    [Fact]
    public void FieldErrors_NameFileLineAndField()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.jsonl", "\n\n{\"rejected\":\"b\", \"chosen\": 3}\n{\"rejected\":\"b\"}\n");
        var rows = DataRowReader.Read(path).ToList();
        var wrong = Assert.Throws<DataFormatException>(() => rows[0].GetString("chosen"));
        Assert.Equal($"{path}:3: field 'chosen' must be a string (found a number)", wrong.Message);
        Assert.Equal("field 'chosen' is not a string", wrong.Reason);
        var missing = Assert.Throws<DataFormatException>(() => rows[1].GetString("chosen"));
        Assert.StartsWith($"{path}:4: field 'chosen' is missing", missing.Message);
        Assert.Equal("missing field 'chosen'", missing.Reason);
    }

    [Fact]
    public void MissingFile_IsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => DataRowReader.Read("/nonexistent/x.jsonl"));
    }

    [Fact]
    public void JsonArray_LargeFile_RefillsBuffer_AndHandlesBom()
    {
        using var tmp = new DataTempFolder();
        var sb = new System.Text.StringBuilder("\uFEFF[\n");
        string big = new('x', 200_000); // one element bigger than the reader's initial 64 KiB window
        for (int i = 0; i < 3000; i++)
            sb.Append(i == 0 ? "" : ",\n").Append($"{{\"i\": {i}, \"t\": \"{(i == 1500 ? big : "row " + i)}\"}}");
        sb.Append("\n]\n");
        string path = tmp.Write("big.json", sb.ToString());
        string gz = tmp.WriteGzip("big.json.gz", sb.ToString());
        foreach (string p in new[] { path, gz })
        {
            var rows = DataRowReader.Read(p).ToList();
            Assert.Equal(3000, rows.Count);
            Assert.Equal(2999, rows[^1].Value.GetProperty("i").GetInt32());
            Assert.Equal(big, rows[1500].GetString("t"));
            Assert.Equal(3000, rows[^1].Number);
        }
    }

    [Fact]
    public void JsonArray_ErrorReportsElementAndLine()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("data.json", "[\n{\"a\":\"1\"},\n{\"a\":\"2\"},\n{\"a\" \"3\"}\n]");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}:element 3: invalid JSON (", e.Message);
        Assert.Contains("on line 4", e.Message);
        string truncated = tmp.Write("cut.json", "[{\"a\":\"1\"}, {\"a\":");
        Assert.Contains("invalid JSON", Assert.Throws<DataFormatException>(() => DataRowReader.Read(truncated).ToList()).Message);
    }

    [Fact]
    public void JsonArray_ErrorAfterSeveralWindows_ReportsAbsoluteElementAndLine()
    {
        using var tmp = new DataTempFolder();
        var sb = new System.Text.StringBuilder("[\n");
        for (int i = 0; i < 5000; i++)
            sb.Append($"{{\"i\": {i}, \"t\": \"some padding text for row {i}\"}},\n");
        sb.Append("{\"i\": oops}\n]");
        string path = tmp.Write("late.json", sb.ToString());
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}:element 5001: invalid JSON (", e.Message);
        Assert.Contains("on line 5002", e.Message);
    }

    [Fact]
    public void Inspect_SummarisesTheFile()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.WriteGzip("d.jsonl.gz", "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\nbad\n{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\",\"margin\":1}\n");
        var s = DataInspector.Inspect(path);
        Assert.True(s.IsGzip);
        Assert.Equal(DataFormat.PreferenceExplicit, s.Format);
        Assert.Equal(2, s.Rows);
        Assert.Equal(1, s.Report.BadRows);
        Assert.Equal(new KeyValuePair<string, int>("margin", 1), s.FieldCounts[^1]);
        Assert.Contains("PreferenceExplicit", s.ToString());
        Assert.Equal(DataFormat.HhRlhf, DataInspector.Inspect(DataSamples.HhSample, maxRows: 5).Format);
    }
}
