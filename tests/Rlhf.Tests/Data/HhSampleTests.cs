// Tests on the shipped sample data/samples/hh-rlhf-sample.jsonl.gz: its format and the documented counts per step.
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class HhSampleTests
{
    /// <summary>Occurrences of "Human: " by removal, independent of HhDialogue.CountHuman.</summary>
    private static int Occurrences(string text, string s) => (text.Length - text.Replace(s, "", StringComparison.Ordinal).Length) / s.Length;

    private static List<(string Chosen, string Rejected)> Rows() =>
        DataRowReader.Read(DataSamples.HhSample).Select(r => (r.GetString("chosen"), r.GetString("rejected"))).ToList();

    [Fact]
    public void Sample_IsHhRlhfFormatted()
    {
        var rows = Rows();
        Assert.True(rows.Count >= 300);
        Assert.All(rows, r =>
        {
            Assert.StartsWith("\n\nHuman: ", r.Chosen);
            Assert.StartsWith("\n\nHuman: ", r.Rejected);
        });
        Assert.Equal(DataFormat.HhRlhf, DataFormats.Detect(DataRowReader.Read(DataSamples.HhSample).First()));
        int single = rows.Count(r => Occurrences(r.Chosen, "\n\nHuman: ") == 1 && Occurrences(r.Rejected, "\n\nHuman: ") == 1);
        double fraction = (double)single / rows.Count;
        Assert.InRange(fraction, 0.6, 0.7);
        Assert.Contains(rows, r => Occurrences(r.Chosen, "\n\nHuman: ") == 3);
        Assert.Contains(rows, r => r.Chosen == r.Rejected);
    }

    [Fact]
    public void SingleTurnFilter_MatchesAnIndependentCount()
    {
        var rows = Rows();
        int expected = rows.Count(r => Occurrences(r.Chosen, "Human: ") < 2 && Occurrences(r.Rejected, "Human: ") < 2);
        var (_, report) = PreferencePipeline.Run(DataSamples.HhSample, DataPipelineOptions.Seed003(null));
        Assert.Equal(expected, report.CountAfter("single-turn"));
        Assert.Equal(202, expected);
    }

    [Fact]
    public void Seed003Recipe_DocumentedCounts()
    {
        var (pairs, report) = PreferencePipeline.Run(DataSamples.HhSample, DataPipelineOptions.Seed003(new WordEncoder()));
        Assert.Equal([("read", 320), ("single-turn", 202), ("extract", 198), ("let-me-explain", 192), ("length", 185)],
            report.Steps.Select(s => (s.Name, s.Count)));
        Assert.Equal(185, pairs.Count);
        Assert.Equal(118, report.Dropped(DropReasons.MultiTurn));
        Assert.Equal(3, report.Dropped(DropReasons.EmptyResponse));
        Assert.Equal(1, report.Dropped(DropReasons.NoAssistantTurn));
        Assert.Equal(6, report.Dropped(DropReasons.AlreadyLetMeExplain));
        Assert.Equal(3, report.Dropped(DropReasons.PromptTooLong));
        Assert.Equal(4, report.Dropped(DropReasons.TotalTooLong));
        Assert.All(pairs, p =>
        {
            Assert.StartsWith("### Question: ", p.Prompt);
            Assert.EndsWith("\n### Answer: ", p.Prompt);
            Assert.Equal("Let me explain. " + p.Rejected, p.Chosen);
            Assert.EndsWith("<|endoftext|>", p.Rejected);
        });
    }

    /// <summary>Counts from tools/reference/hh_textbook_steps.py's reward steps with one token per word (see data/README.md).</summary>
    [Fact]
    public void TextbookRewardSteps_DocumentedCounts()
    {
        var (pairs, report) = PreferencePipeline.Run(DataSamples.HhSample, DataPipelineOptions.TextbookReward(new WordEncoder()));
        Assert.Equal([("read", 320), ("single-turn", 202), ("extract", 201), ("length", 197)], report.Steps.Select(s => (s.Name, s.Count)));
        Assert.Equal(197, pairs.Count);
        Assert.Equal(1, report.Dropped(DropReasons.NoAssistantTurn));
        Assert.Equal(4, report.Dropped(DropReasons.TextTooLong));

        var (_, distinct) = PreferencePipeline.Run(DataSamples.HhSample, DataPipelineOptions.TextbookReward(new WordEncoder()) with { DropIdenticalPairs = true });
        Assert.Equal(5, distinct.Dropped(DropReasons.IdenticalPair));
    }

    [Fact]
    public void AllTurns_WithoutSingleTurnFilter()
    {
        var (pairs, report) = PreferencePipeline.Run(DataSamples.HhSample,
            new DataPipelineOptions { SingleTurnOnly = false, Extraction = HhExtraction.LastTurn, Encoder = new WordEncoder() });
        Assert.Equal(["read", "extract", "length"], report.Steps.Select(s => s.Name));
        Assert.Equal(319, report.CountAfter("extract"));
        Assert.Equal(pairs.Count, report.CountAfter("length"));
        Assert.Contains(pairs, p => p.Prompt.Contains("\n\nAssistant: ", StringComparison.Ordinal));
    }
}
