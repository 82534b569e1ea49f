// The textbook's data steps on real hh-rlhf rows (data/samples/hh-rlhf-harmless-test.jsonl.gz) with the real GPT-2
// tokenizer, against the counts of the independent tools/reference/hh_textbook_steps.py (tests/fixtures/hh_real/).
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Tests.Support;
using Rlhf.Tests.Text;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class HhRealSampleTests
{
    private static readonly Lazy<JsonElement> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.Path("hh_real", "textbook_counts.json"))).RootElement);

    private static readonly DelegateTextEncoder Gpt2 = new(text => Gpt2TokenizerTests.Gpt2.Value.Encode(text));

    private static (string, int)[] ExpectedSteps(string task) =>
        Expected.Value.GetProperty(task).GetProperty("steps").EnumerateArray()
            .Select(s => (s.GetProperty("name").GetString()!, s.GetProperty("count").GetInt32())).ToArray();

    private static (string, int)[] Steps(DataReport report) => report.Steps.Select(s => (s.Name, s.Count)).ToArray();

    [Fact]
    public void Sample_HoldsTheCasesThatMatter()
    {
        var rows = DataRowReader.Read(DataSamples.HhReal).Select(r => (Chosen: r.GetString("chosen"), Rejected: r.GetString("rejected"))).ToList();
        Assert.Equal(198, rows.Count);
        Assert.True(rows.Count(r => HhDialogue.CountHuman(r.Chosen) >= 2) > 100, "multi-turn dialogues");
        // A single-turn chosen side with a two-turn rejected side: the filter on both columns drops it.
        Assert.True(rows.Count(r => HhDialogue.CountHuman(r.Chosen) < 2 && HhDialogue.CountHuman(r.Rejected) >= 2) >= 5);
        // Single-turn rows whose chosen answer is empty: the reward data keeps them, the DPO recipe skips them.
        Assert.Equal(3, rows.Count(r => HhDialogue.IsSingleTurn(r.Chosen, r.Rejected) && HhDialogue.ExtractConversation(r.Chosen).Answer.Length == 0));
    }

    [Fact]
    public void RewardSteps_MatchTheReference()
    {
        var (pairs, report) = PreferencePipeline.Run(DataSamples.HhReal, DataPipelineOptions.TextbookReward(Gpt2));
        Assert.Equal(ExpectedSteps("reward"), Steps(report));
        Assert.Equal([("read", 198), ("single-turn", 46), ("extract", 46), ("length", 45)], Steps(report));
        Assert.Equal(Expected.Value.GetProperty("reward").GetProperty("first_chosen_text").GetString(), pairs[0].Prompt + pairs[0].Chosen);
        Assert.Contains(pairs, p => p.Chosen == "<|endoftext|>"); // "### Answer: <|endoftext|>", as the textbook renders it
    }

    [Fact]
    public void PpoQueries_MatchTheReference()
    {
        var (queries, report) = PpoQueries.Run(DataSamples.HhReal, DataPipelineOptions.TextbookReward(Gpt2));
        Assert.Equal(ExpectedSteps("ppo"), Steps(report));
        Assert.Equal(45, queries.Count);
        Assert.Equal(Expected.Value.GetProperty("ppo").GetProperty("first_query").GetString(), queries[0]);
        Assert.All(queries, q => Assert.EndsWith("\n### Answer: ", q));
    }

    [Fact]
    public void DpoLetMeExplainSteps_MatchTheReference()
    {
        var (pairs, report) = PreferencePipeline.Run(DataSamples.HhReal, DataPipelineOptions.Seed003(Gpt2));
        Assert.Equal(ExpectedSteps("dpo"), Steps(report));
        Assert.Equal(43, pairs.Count);
        Assert.Equal(3, report.Dropped(DropReasons.EmptyResponse));
    }

    [Fact]
    public void SftSteps_MatchTheReference()
    {
        var (examples, report) = SftPipeline.Run(DataSamples.HhReal,
            new DataPipelineOptions { Encoder = Gpt2, Task = DataTask.Sft, MaxPromptLength = 512 });
        Assert.Equal(ExpectedSteps("sft"), Steps(report));
        Assert.Equal(46, examples.Count);
    }

    [Fact]
    public void RewardIds_AreTheWholeTextTokenizedAtOnce()
    {
        // "### Answer: You": whole text gives ":", " You" (25, 921); prompt and response apart give ":", " ", "You".
        var template = PromptTemplate.Default;
        string prompt = template.RenderPrompt("Hi"), response = template.RenderResponse("You", "<|endoftext|>");
        int[] whole = TokenSequences.Whole(Gpt2, prompt, response, template, 50256);
        Assert.Equal([25, 921, 50256], whole[^3..]);
        int[] apart = [.. Gpt2.Encode(prompt), .. TokenSequences.Response(Gpt2, response, template, 50256)];
        Assert.Equal([25, 220, 1639, 50256], apart[^4..]);
        // A template without EOS text gets the EOS id appended, in both views.
        Assert.Equal(50256, TokenSequences.Whole(Gpt2, "a", "b", PromptTemplate.Raw, 50256)[^1]);
    }
}
