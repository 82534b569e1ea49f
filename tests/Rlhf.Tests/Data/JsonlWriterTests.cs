// Tests for JsonlWriter: round trips (plain and gzip) and all-or-nothing behaviour on failure.
using System.Text.Json.Nodes;
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class JsonlWriterTests
{
    private static readonly PreferencePair[] Pairs =
    [
        new("### Question: Q\n### Answer: ", "Let me explain. A “quoted” é<|endoftext|>", "A<|endoftext|>"),
        new("P2", "c2", "r2", 0.5f),
    ];

    [Theory]
    [InlineData("out.jsonl")]
    [InlineData("out.jsonl.gz")]
    public void Preferences_RoundTripThroughThePipeline(string name)
    {
        using var tmp = new DataTempFolder();
        string path = tmp.File(name);
        Assert.Equal(2, JsonlWriter.WritePreferences(path, Pairs));
        Assert.Equal(name.EndsWith(".gz"), DataRowReader.IsGzip(path));
        var (back, _) = PreferencePipeline.Run(path, new DataPipelineOptions { Template = PromptTemplate.Raw });
        Assert.Equal(Pairs, back);
        Assert.Equal([name], Directory.GetFiles(tmp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Instructions_WrittenAsPromptResponse_AndReadBack()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.File("sft.jsonl");
        JsonlWriter.WriteInstructions(path, [new InstructionExample("I", "R")]);
        Assert.Equal("{\"prompt\":\"I\",\"response\":\"R\"}\n", File.ReadAllText(path));
        Assert.Equal([new InstructionExample("I", "R")], SftPipeline.Run(path, new DataPipelineOptions { Template = PromptTemplate.Raw }).Examples);
    }

    [Fact]
    public void ArbitraryObjectsAndNodes()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.File("rows.jsonl");
        JsonlWriter.WriteAtomic(path, [new { a = 1, b = "x" }, new JsonObject { ["c"] = true }]);
        Assert.Equal("{\"a\":1,\"b\":\"x\"}\n{\"c\":true}\n", File.ReadAllText(path));
    }

    [Fact]
    public void FailureMidway_LeavesExistingFileUntouched_AndNoTempFiles()
    {
        using var tmp = new DataTempFolder();
        foreach (string name in new[] { "keep.jsonl", "keep.jsonl.gz" })
        {
            string path = tmp.File(name);
            File.WriteAllText(path, "original");
            IEnumerable<object> Rows()
            {
                yield return new { a = 1 };
                throw new InvalidOperationException("boom");
            }
            Assert.Throws<InvalidOperationException>(() => JsonlWriter.WriteAtomic(path, Rows()));
            Assert.Equal("original", File.ReadAllText(path));
        }
        Assert.Equal(["keep.jsonl", "keep.jsonl.gz"], Directory.GetFiles(tmp.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void MissingFolder_IsAClearError()
    {
        using var tmp = new DataTempFolder();
        var e = Assert.Throws<DirectoryNotFoundException>(() => JsonlWriter.WriteAtomic(tmp.File("no/such/out.jsonl"), [new { a = 1 }]));
        Assert.Contains("does not exist; create it first", e.Message);
    }
}
