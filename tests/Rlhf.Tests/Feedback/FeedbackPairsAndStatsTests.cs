// Ranked lists → chosen/rejected pairs; agreement and flag statistics.
using Rlhf.Feedback;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Feedback;

public class FeedbackPairsAndStatsTests
{
    [Fact]
    public void AllPairsFollowTheRankingAndSkipTiesAndDuplicates()
    {
        var record = LabelFixtures.Record("a", "x", ["A", "B", "C", "D"], ties: [[1, 2]]);
        var pairs = FeedbackPairs.FromRecord(record).Select(p => p.Chosen + ">" + p.Rejected).ToArray();
        Assert.Equal(["A>B", "A>C", "A>D", "B>D", "C>D"], pairs);
        Assert.Equal(["A>D"], FeedbackPairs.FromRecord(record, PairSelection.BestVsWorst).Select(p => p.Chosen + ">" + p.Rejected));
        var duplicates = LabelFixtures.Record("b", "x", ["A", "A", "B"]);
        Assert.Equal(["A>B", "A>B"], FeedbackPairs.FromRecord(duplicates).Select(p => p.Chosen + ">" + p.Rejected));
        var allTied = LabelFixtures.Record("c", "x", ["A", "B"], ties: [[0, 1]]);
        Assert.Empty(FeedbackPairs.FromRecord(allTied, PairSelection.BestVsWorst));
        Assert.All(FeedbackPairs.FromRecord(record), p => Assert.Equal("p a", p.Prompt));
    }

    [Fact]
    public void ConvertWritesPairsAsJsonl()
    {
        using var dir = new TempDirectory();
        var store = new FeedbackStore(dir.Sub("f.jsonl"));
        store.Append(LabelFixtures.Record("a", "x", ["A", "B", "C"]));
        Assert.Equal(3, FeedbackPairs.Convert(store.Path, dir.Sub("pairs.jsonl")));
        var line = File.ReadAllLines(dir.Sub("pairs.jsonl"))[0];
        Assert.Equal("{\"prompt\":\"p a\",\"chosen\":\"A\",\"rejected\":\"B\"}", line);
        Assert.Throws<ArgumentException>(() => FeedbackPairs.Convert(store.Path, store.Path));
        Assert.Single(File.ReadAllLines(store.Path));
    }

    [Fact]
    public void StatsCountAnnotatorsFlagsAndAgreement()
    {
        string[] responses = ["A", "B", "C", "D"];
        var file = new FeedbackFile(
        [
            LabelFixtures.Record("p1", "ann", responses, flags: [["harmful"], [], ["untruthful", "harmful"], []]),
            LabelFixtures.Record("p1", "bob", ["A", "B", "D", "C"]),              // 5 of 6 pairs agree, same best
            LabelFixtures.Record("p2", "ann", responses),
            LabelFixtures.Record("p2", "bob", ["D", "C", "B", "A"], minute: 1),  // all 6 disagree
            LabelFixtures.Record("p2", "bob", ["B", "A", "C", "D"], minute: 2),  // bob's latest: 5 of 6 agree, other best
            LabelFixtures.Record("p3", "ann", responses),
            LabelFixtures.Record("p4", "ann", ["A", "B"]),
            LabelFixtures.Record("p4", "bob", ["X", "Y"]),                       // no shared responses: not comparable
        ], [9]);
        var stats = FeedbackStats.Compute(file);
        Assert.Equal(8, stats.Judgements);
        Assert.Equal(4, stats.Prompts);
        Assert.Equal(1, stats.MalformedLines);
        Assert.Equal(4, stats.PerAnnotator["ann"]);
        Assert.Equal(4, stats.PerAnnotator["bob"]);
        Assert.Equal(3, stats.PromptsJudgedTwice);
        Assert.Equal(2, stats.ComparedJudgementPairs);
        Assert.Equal(5.0 / 6, stats.PairwiseAgreement!.Value, 1e-12);
        Assert.Equal(0.5, stats.Top1Agreement!.Value, 1e-12);
        Assert.Equal(2, stats.Flags["harmful"]);
        Assert.Equal(1, stats.Flags["untruthful"]);
    }

    [Fact]
    public void TiesCountAsARelationInAgreement()
    {
        var tied = LabelFixtures.Record("p", "a", ["A", "B", "C"], ties: [[0, 1]]);
        var ordered = LabelFixtures.Record("p", "b", ["A", "B", "C"]);
        Assert.Equal(2.0 / 3, FeedbackStats.AgreementOf(tied, ordered)!.Value, 1e-12);
        Assert.Equal(1.0, FeedbackStats.AgreementOf(tied, tied with { Annotator = "c" })!.Value, 1e-12);
    }

    [Fact]
    public void TheStatsCommandPrintsJson()
    {
        using var dir = new TempDirectory();
        var store = new FeedbackStore(dir.Sub("f.jsonl"));
        store.Append(LabelFixtures.Record("a", "x", ["A", "B"]));
        Assert.Equal(0, Rlhf.Cli.RlhfApp.Run(["label", "stats", store.Path, "--json"]));
        Assert.Equal(0, Rlhf.Cli.RlhfApp.Run(["label", "stats", store.Path]));
        Assert.NotEqual(0, Rlhf.Cli.RlhfApp.Run(["label", "stats", dir.Sub("missing.jsonl")]));
        Assert.NotEqual(0, Rlhf.Cli.RlhfApp.Run(["label", "--prompts", "x"]));
    }
}
