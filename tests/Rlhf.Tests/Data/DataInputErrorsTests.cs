// Damaged data files fail with one short message naming the file and line: over-long lines, corrupt gzip, bad text, nulls.
using System.IO.Compression;
using System.Text;
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class DataInputErrorsTests : IDisposable
{
    private readonly DataTempFolder tmp = new();

    public void Dispose() => tmp.Dispose();

    private const string Row = "{\"chosen\":\"a\",\"rejected\":\"b\"}";

    [Fact]
    public void OverLongLineIsABadRowNamingTheLine()
    {
        string path = tmp.Write("data.jsonl", $"{Row}\n{{\"chosen\":\"{new string('x', 500)}\"}}\n{Row}\n");
        var error = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path, maxLineLength: 100).ToList());
        Assert.Equal($"{path}:2", error.Location);
        Assert.Equal("line too long", error.Reason);
        Assert.Contains("--max-line-length", error.Message);

        var report = new DataReport();
        var rows = DataRowReader.Read(path, skipBadRows: true, report, maxLineLength: 100).ToList();
        Assert.Equal([1, 3], rows.Select(r => r.Number));
        Assert.Equal(1, report.BadRows);
        Assert.Equal(3, DataRowReader.Read(path, maxLineLength: 600).Count());
    }

    [Fact]
    public void OverLongArrayElementNamesTheElement()
    {
        string path = tmp.Write("data.json", $"[{Row}, {{\"chosen\":\"{new string('x', 300_000)}\"}}]");
        var error = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path, maxLineLength: 100_000).ToList());
        Assert.Equal($"{path}:element 2", error.Location);
        Assert.Equal("element too long", error.Reason);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public void BoundedLinesSplitLikeReadLine(string newline)
    {
        var random = new Random(5);
        var text = new StringBuilder();
        for (int i = 0; i < 300; i++)
        {
            text.Append(new string((char)('a' + i % 26), random.Next(0, 70_000 / (1 + i % 40))));
            text.Append(i % 7 == 0 ? "\r\n" : newline);
        }
        if (newline == "\n") text.Append("tail without newline");
        var expected = new List<string>();
        using (var reader = new StringReader(text.ToString()))
            for (string? line; (line = reader.ReadLine()) is not null;) expected.Add(line);
        var actual = new List<string>();
        var bounded = new BoundedLineReader(new StringReader(text.ToString()), int.MaxValue);
        while (bounded.Next(out var line, out long length))
        {
            Assert.Equal(line!.Length, length);
            actual.Add(line);
        }
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TruncatedOrTinyGzipIsCorrupt()
    {
        string good = tmp.WriteGzip("good.jsonl.gz", string.Join("\n", Enumerable.Repeat(Row, 200)) + "\n");
        Assert.Equal(200, DataRowReader.Read(good).Count());
        byte[] bytes = File.ReadAllBytes(good);

        string tiny = tmp.File("tiny.jsonl.gz");
        File.WriteAllBytes(tiny, bytes[..10]);
        var error = Assert.Throws<DataFormatException>(() => DataRowReader.Read(tiny).ToList());
        Assert.Equal("corrupt gzip", error.Reason);
        Assert.StartsWith(tiny, error.Message);

        string cut = tmp.File("cut.jsonl.gz");
        File.WriteAllBytes(cut, bytes[..^5]);
        Assert.Equal("corrupt gzip", Assert.Throws<DataFormatException>(() => DataRowReader.Read(cut).ToList()).Reason);

        string badCrc = tmp.File("crc.jsonl.gz");
        bytes[^8] ^= 1;
        File.WriteAllBytes(badCrc, bytes);
        Assert.Equal("corrupt gzip", Assert.Throws<DataFormatException>(() => DataRowReader.Read(badCrc).ToList()).Reason);
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, CheckedGzipStream.Crc32.Compute("123456789"u8));

    [Fact]
    public void EmptyGzipOfNothingIsFine()
    {
        string path = tmp.WriteGzip("empty.jsonl.gz", "");
        Assert.Empty(DataRowReader.Read(path));
    }

    [Fact]
    public void LoneSurrogateIsABadRowNamingTheLine()
    {
        string path = tmp.Write("data.jsonl", Row + "\n{\"chosen\":\"a\\ud800\",\"rejected\":\"b\"}\n");
        var error = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.Equal($"{path}:2", error.Location);
        Assert.Equal("invalid text", error.Reason);
        Assert.Contains("$.chosen", error.Message);
    }

    [Fact]
    public void NullFieldIsNotCalledMissing()
    {
        string path = tmp.Write("data.jsonl", "{\"chosen\":null,\"rejected\":\"b\"}\n");
        var row = DataRowReader.Read(path).Single();
        var error = Assert.Throws<DataFormatException>(() => row.GetString("chosen"));
        Assert.Equal($"{path}:1: field 'chosen' is null; it must hold a value", error.Message);
    }

    [Fact]
    public void HugeLineFromSmallGzipStopsAtTheCap()
    {
        // 64 MiB of one line compresses to ~64 KB; the reader must stop at its cap, not build the line.
        string path = tmp.File("bomb.jsonl.gz");
        using (var file = File.Create(path))
        using (var gz = new GZipStream(file, CompressionLevel.Optimal))
        {
            var chunk = Encoding.ASCII.GetBytes(new string('x', 1 << 20));
            gz.Write("{\"chosen\":\""u8);
            for (int i = 0; i < 64; i++) gz.Write(chunk);
            gz.Write("\"}\n"u8);
        }
        Assert.True(new FileInfo(path).Length < 1 << 20);
        var error = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.Equal("line too long", error.Reason);
    }
}
