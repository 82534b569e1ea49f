// The labeling queue: stored records, validation (nothing written), resume, skips, sampling seeds.
using Rlhf.Feedback;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Feedback;

public class LabelingSessionTests
{
    private static RankSubmission Rank(string id, int[] order, int[][]? ties = null, Dictionary<int, IReadOnlyList<string>>? flags = null, string? annotator = null) =>
        new(id, order, ties ?? [], flags ?? [], annotator);

    [Fact]
    public void ASubmissionIsStoredBestFirstWithTiesAndFlagsAtTheirPositions()
    {
        using var dir = new TempDirectory();
        var session = LabelFixtures.Session(dir.Sub("f.jsonl"));
        var task = session.Current()!;
        Assert.Equal(4, task.Responses.Count);
        var record = session.Submit(Rank(task.PromptId, [2, 0, 3, 1], ties: [[3, 0]], flags: new() { [1] = ["harmful", "untruthful"], [2] = ["untruthful"] }));
        Assert.Equal(new[] { task.Responses[2], task.Responses[0], task.Responses[3], task.Responses[1] }, record.Responses);
        Assert.Equal([[1, 2]], record.Ties.Select(t => t.ToArray()));
        Assert.Equal(["untruthful"], record.Flags[0]);
        Assert.Equal(["harmful", "untruthful"], record.Flags[3]);
        Assert.Empty(record.Flags[1]);
        Assert.Equal("ann", record.Annotator);
        Assert.Equal("question number 0?", record.Prompt);
        Assert.Equal("### Question: question number 0?\n### Answer: ", record.RenderedPrompt);
        Assert.Equal([0, 1, 1, 3], record.Ranks());
        var stored = session.Store.Read().Records.Single();
        Assert.Equal(record.Responses, stored.Responses);
        Assert.NotEqual(task.PromptId, session.Current()!.PromptId);
        Assert.Equal(1, session.Judged);
    }

    public static TheoryData<string, int[], int[][], string?> BadSubmissions => new()
    {
        { "unknown", [0, 1, 2, 3], [], null },
        { "", [0, 1, 2], [], null },            // not all ranked
        { "", [0, 1, 2, 2], [], null },         // not a permutation
        { "", [0, 1, 2, 4], [], null },         // out of range
        { "", [0, 1, 2, -1], [], null },
        { "", [0, 1, 2, 3, 4], [], null },
        { "", [0, 1, 2, 3], [[0, 2]], null },   // tie not adjacent in the order
        { "", [0, 1, 2, 3], [[0]], null },      // a tie of one
        { "", [0, 1, 2, 3], [[0, 1], [1, 2]], null },
        { "", [0, 1, 2, 3], [[3, 7]], null },
        { "", [0, 1, 2, 3], [], "unknownflag" },
        { "", [0, 1, 2, 3], [], "outofrange" },
    };

    [Theory]
    [MemberData(nameof(BadSubmissions))]
    public void BadSubmissionsAreRejectedAndWriteNothing(string promptId, int[] order, int[][] ties, string? flagCase)
    {
        using var dir = new TempDirectory();
        var session = LabelFixtures.Session(dir.Sub("f.jsonl"));
        var task = session.Current()!;
        var flags = flagCase switch
        {
            "unknownflag" => new Dictionary<int, IReadOnlyList<string>> { [0] = ["rude"] },
            "outofrange" => new Dictionary<int, IReadOnlyList<string>> { [4] = ["harmful"] },
            _ => null,
        };
        Assert.Throws<FeedbackValidationException>(() => session.Submit(Rank(promptId == "" ? task.PromptId : promptId, order, ties, flags)));
        Assert.False(File.Exists(dir.Sub("f.jsonl")));
        Assert.Equal(task.PromptId, session.Current()!.PromptId);
    }

    [Fact]
    public void AnIdNotYetShownOrAlreadyJudgedIsRejected()
    {
        using var dir = new TempDirectory();
        var session = LabelFixtures.Session(dir.Sub("f.jsonl"));
        var prompts = LabelFixtures.Prompts(3);
        var task = session.Current(prefetchNext: false)!;
        Assert.Throws<FeedbackValidationException>(() => session.Submit(Rank(prompts[2].Id, [0, 1, 2, 3])));
        session.Submit(Rank(task.PromptId, [0, 1, 2, 3]));
        Assert.Throws<FeedbackValidationException>(() => session.Submit(Rank(task.PromptId, [0, 1, 2, 3])));
        Assert.Single(File.ReadAllLines(dir.Sub("f.jsonl")));
    }

    [Fact]
    public void RestartingResumesAfterTheJudgedPromptsOfThisAnnotator()
    {
        using var dir = new TempDirectory();
        string path = dir.Sub("f.jsonl");
        var first = LabelFixtures.Session(path, prompts: 4);
        var a = first.Current()!;
        first.Submit(Rank(a.PromptId, [0, 1, 2, 3]));
        var b = first.Current()!;
        first.Submit(Rank(b.PromptId, [3, 2, 1, 0]));

        var again = LabelFixtures.Session(path, prompts: 4);
        Assert.Equal(2, again.Judged);
        var next = again.Current()!;
        Assert.Equal(LabelFixtures.Prompts(4)[2].Id, next.PromptId);
        Assert.Equal(2, next.Judged);

        // Another annotator on the same file starts from the beginning (their judgements make agreement measurable).
        var other = LabelFixtures.Session(path, prompts: 4, annotator: "second");
        Assert.Equal(a.PromptId, other.Current()!.PromptId);
        Assert.Equal(a.Responses, other.Current()!.Responses); // same seed → same responses
    }

    [Fact]
    public void SkippedPromptsComeBackAfterTheFreshOnesOnceAndAreNotWritten()
    {
        using var dir = new TempDirectory();
        var session = LabelFixtures.Session(dir.Sub("f.jsonl"), prompts: 3);
        var ids = LabelFixtures.Prompts(3).Select(p => p.Id).ToArray();
        session.Skip(session.Current()!.PromptId);
        Assert.Equal(ids[1], session.Current()!.PromptId);
        session.Submit(Rank(ids[1], [0, 1, 2, 3]));
        Assert.Equal(ids[2], session.Current()!.PromptId);
        session.Skip(ids[2]);
        Assert.Equal(ids[0], session.Current()!.PromptId); // the skipped ones, in order
        session.Skip(ids[0]);
        Assert.Equal(ids[2], session.Current()!.PromptId);
        session.Skip(ids[2]);
        Assert.Null(session.Current());
        Assert.Single(File.ReadAllLines(dir.Sub("f.jsonl")));
        Assert.Throws<FeedbackValidationException>(() => session.Skip("ffffffffffffffff"));

        var restarted = LabelFixtures.Session(dir.Sub("f.jsonl"), prompts: 3);
        Assert.Equal(ids[0], restarted.Current()!.PromptId);
    }

    [Fact]
    public void TheSeedOfAPromptDependsOnItsIdNotItsPosition()
    {
        using var dir = new TempDirectory();
        var session = LabelFixtures.Session(dir.Sub("f.jsonl"));
        var ids = LabelFixtures.Prompts(2).Select(p => p.Id).ToArray();
        Assert.NotEqual(session.SeedFor(ids[0]), session.SeedFor(ids[1]));
        Assert.Equal(session.SeedFor(ids[0]), LabelFixtures.Session(dir.Sub("g.jsonl")).SeedFor(ids[0]));
    }

    [Fact]
    public void PromptsLoadFromJsonlOrPlainTextAndRenderWithTheTemplate()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Sub("p.jsonl"), "{\"prompt\": \"one\"}\n\n{\"instruction\": \"two\", \"x\": 1}\n{\"prompt\": \"one\"}\n");
        File.WriteAllText(dir.Sub("p.txt"), "first line\n\nsecond line  \n");
        var json = LabelPrompt.Load(dir.Sub("p.jsonl"));
        Assert.Equal(["one", "two"], json.Select(p => p.Text));
        Assert.Equal("### Question: two\n### Answer: ", json[1].Rendered);
        var text = LabelPrompt.Load(dir.Sub("p.txt"), template: null);
        Assert.Equal(["first line", "second line"], text.Select(p => p.Text));
        Assert.Equal("first line", text[0].Rendered);
        File.WriteAllText(dir.Sub("bad.jsonl"), "{\"prompt\": \"one\"}\n{\"text\": \"two\"}\n");
        Assert.Contains(":2:", Assert.Throws<InvalidDataException>(() => LabelPrompt.Load(dir.Sub("bad.jsonl"))).Message);
        File.WriteAllText(dir.Sub("empty.txt"), "\n\n");
        Assert.Throws<InvalidDataException>(() => LabelPrompt.Load(dir.Sub("empty.txt")));
    }

    [Fact]
    public void TheModelSamplerDrawsKResponsesInOneBatchWithoutTheEos()
    {
        using var dir = new TempDirectory();
        LabelFixtures.WriteTinyModel(dir.Sub("model"));
        using var folder = ModelFolder.Load(dir.Sub("model"));
        using var sampler = new ModelResponseSampler(folder, new SamplingSettings { MaxNewTokens = 12, Temperature = 1f });
        var prompt = LabelPrompt.Create("what is the capital of France?");
        var first = sampler.Sample(prompt.Rendered, 4, seed: 5);
        Assert.Equal(4, first.Count);
        Assert.Equal(first, sampler.Sample(prompt.Rendered, 4, seed: 5));
        Assert.True(first.Distinct().Count() > 1, "rows should differ");
        Assert.DoesNotContain(first, r => r.Contains("<|endoftext|>"));
        sampler.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sampler.Sample(prompt.Rendered, 2, seed: 5));
    }
}
