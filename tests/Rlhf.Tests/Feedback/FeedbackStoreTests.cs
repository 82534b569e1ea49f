// The feedback file: round trip, concurrent appends never lose or interleave a line, torn lines, read tolerance.
using System.Text;
using System.Text.Json;
using Rlhf.Feedback;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Feedback;

public class FeedbackStoreTests
{
    [Fact]
    public void AppendedRecordsReadBackUnchanged()
    {
        using var dir = new TempDirectory();
        var store = new FeedbackStore(dir.Sub("sub/feedback.jsonl"));
        var record = LabelFixtures.Record("abc", "ann", ["best \"one\"\nline two", "worst <b>"], ties: [], flags: [["harmful"], []]);
        store.Append(record);
        store.Append(record with { Annotator = "other" });
        var file = store.Read();
        Assert.Empty(file.MalformedLines);
        Assert.Equal(2, file.Records.Count);
        Assert.Equal(record.Responses, file.Records[0].Responses);
        Assert.Equal(["harmful"], file.Records[0].Flags[0]);
        Assert.Equal("other", file.Records[1].Annotator);
        Assert.Equal(record.Timestamp, file.Records[0].Timestamp);
        var lines = File.ReadAllLines(store.Path);
        Assert.Equal(2, lines.Length); // the newline inside a response is escaped
        using var json = JsonDocument.Parse(lines[0]);
        foreach (string key in (string[])["prompt_id", "prompt", "rendered_prompt", "responses", "ties", "flags", "annotator", "model", "timestamp"])
            Assert.True(json.RootElement.TryGetProperty(key, out _), key);
    }

    [Fact]
    public void ConcurrentWritersNeverLoseOrInterleaveALine()
    {
        using var dir = new TempDirectory();
        string path = dir.Sub("feedback.jsonl");
        const int writers = 4, perWriter = 150;
        string padding = new('x', 5000); // lines longer than a pipe/page buffer make interleaving visible if it happened
        Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = writers }, w =>
        {
            var store = new FeedbackStore(path); // one store (and file handle) per writer, as in separate processes
            for (int i = 0; i < perWriter; i++)
                store.Append(LabelFixtures.Record($"{w}-{i}", $"writer{w}", [padding + i, "b"]));
        });
        var lines = File.ReadAllLines(path);
        Assert.Equal(writers * perWriter, lines.Length);
        var ids = lines.Select(l => FeedbackRecord.Parse(l).PromptId).ToHashSet();
        Assert.Equal(writers * perWriter, ids.Count);
        for (int w = 0; w < writers; w++)
        {
            // Each writer's lines keep their order.
            var mine = lines.Select(FeedbackRecord.Parse).Where(r => r.Annotator == $"writer{w}").Select(r => int.Parse(r.PromptId.Split('-')[1])).ToArray();
            Assert.Equal(Enumerable.Range(0, perWriter), mine);
        }
    }

    [Fact]
    public void ATornLastLineIsSkippedOnReadAndNotGluedToTheNextRecord()
    {
        using var dir = new TempDirectory();
        string path = dir.Sub("feedback.jsonl");
        var store = new FeedbackStore(path);
        store.Append(LabelFixtures.Record("a", "ann", ["x", "y"]));
        File.AppendAllText(path, "{\"prompt_id\": \"cut", Encoding.UTF8); // a crash mid-write
        long before = new FileInfo(path).Length;
        store.Append(LabelFixtures.Record("b", "ann", ["x", "y"]));
        Assert.True(new FileInfo(path).Length > before); // appended, never rewritten
        var file = store.Read();
        Assert.Equal(["a", "b"], file.Records.Select(r => r.PromptId));
        Assert.Equal([2], file.MalformedLines);
        Assert.StartsWith(File.ReadAllText(path)[..10], File.ReadAllText(path));
    }

    [Fact]
    public void AMissingFileReadsAsEmpty()
    {
        using var dir = new TempDirectory();
        var file = new FeedbackStore(dir.Sub("none.jsonl")).Read();
        Assert.Empty(file.Records);
        Assert.False(File.Exists(dir.Sub("none.jsonl")));
    }

    [Theory]
    [InlineData("{\"prompt_id\":\"a\",\"prompt\":\"p\",\"rendered_prompt\":\"p\",\"responses\":[],\"annotator\":\"x\",\"model\":\"m\",\"timestamp\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"prompt_id\":\"a\",\"prompt\":\"p\",\"rendered_prompt\":\"p\",\"responses\":[\"a\",\"b\"],\"ties\":[[0,5]],\"annotator\":\"x\",\"model\":\"m\",\"timestamp\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"prompt\":\"p\"}")]
    [InlineData("[1,2]")]
    public void MalformedRecordsAreRejected(string line) => Assert.Throws<FormatException>(() => FeedbackRecord.Parse(line));
}
