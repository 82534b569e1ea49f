// Tests for PreferencePipeline and SftPipeline: step counts and drop reasons on a hand-made set, the Let-me-explain recipe.
using System.Text.Json;
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class PipelineTests
{
    private static string Hh(params string[] turns) =>
        string.Concat(turns.Select((t, i) => (i % 2 == 0 ? "\n\nHuman: " : "\n\nAssistant: ") + t));

    private static string Line(string chosen, string rejected) => JsonSerializer.Serialize(new { chosen, rejected });

    /// <summary>9 lines: 2 bad rows, 1 multi-turn, 1 empty answer, 1 identical pair, 1 "Let me explain" answer, 1 long prompt, 1 long answer, 1 plain.</summary>
    private static string WriteHandMade(DataTempFolder tmp)
    {
        string longAnswer = string.Join(' ', Enumerable.Range(1, 15).Select(i => $"w{i}"));
        var lines = new[]
        {
            Line(Hh("What is tea?", "Tea is a drink."), Hh("What is tea?", "No idea.")),                         // 1 kept
            Line(Hh("Hi", "Hello", "Joke?", "Knock knock."), Hh("Hi", "Hello", "Joke?", "No.")),                 // 2 multi-turn
            "{\"chosen\": not json}",                                                                              // 3 bad: invalid JSON
            Line(Hh("Empty?", ""), Hh("Empty?", "Something.")),                                                   // 4 empty response
            Line(Hh("Same?", "Same answer."), Hh("Same?", "Same answer.")),                                       // 5 identical
            Line(Hh("How?", "Let me explain: it works."), Hh("How?", "It works.")),                               // 6 already "Let me explain"
            "{\"chosen\": \"\\n\\nHuman: x\\n\\nAssistant: y\"}",                                                  // 7 bad: missing rejected
            Line(Hh("one two three four five six seven", "Fine."), Hh("one two three four five six seven", "Meh.")), // 8 prompt too long
            Line(Hh("Explain tea?", longAnswer), Hh("Explain tea?", "Short.")),                                   // 9 total too long
        };
        return tmp.Write("pairs.jsonl", string.Join("\n", lines) + "\n");
    }

    /// <summary>DPO-style options (prompt and response apart); the recipe as the textbook's DPO notebook.</summary>
    private static DataPipelineOptions Small(bool recipe) => new()
    {
        Encoder = new WordEncoder(), MaxLength = 20, MaxPromptLength = 10, SkipBadRows = true, LetMeExplain = recipe, Task = DataTask.Dpo,
    };

    [Fact]
    public void Preference_RewardSteps_KeepEmptyAndIdenticalPairs_MeasureWholeTexts()
    {
        using var tmp = new DataTempFolder();
        string path = WriteHandMade(tmp);
        var (pairs, report) = PreferencePipeline.Run(path, Small(recipe: false) with { Task = DataTask.Reward });
        // The textbook's reward data: no empty-answer or identical-pair step, no prompt limit; whole texts ≤ 20 words.
        Assert.Equal([("read", 7), ("single-turn", 6), ("extract", 6), ("length", 5)], report.Steps.Select(s => (s.Name, s.Count)));
        Assert.Equal(1, report.Dropped(DropReasons.TextTooLong));
        Assert.Equal("<|endoftext|>", pairs[1].Chosen);
        Assert.Equal(pairs[2].Chosen, pairs[2].Rejected);
    }

    [Fact]
    public void Preference_OptionalSteps_CountsAfterEachStep()
    {
        using var tmp = new DataTempFolder();
        string path = WriteHandMade(tmp);
        var (pairs, report) = PreferencePipeline.Run(path, Small(recipe: false) with { DropEmptyAnswers = true, DropIdenticalPairs = true });

        Assert.Equal([("read", 7), ("single-turn", 6), ("extract", 5), ("distinct", 4), ("length", 2)],
            report.Steps.Select(s => (s.Name, s.Count)));
        Assert.Equal(2, report.BadRows);
        Assert.Equal(1, report.Dropped("invalid JSON"));
        Assert.Equal(1, report.Dropped("missing field 'rejected'"));
        Assert.Equal(1, report.Dropped(DropReasons.MultiTurn));
        Assert.Equal(1, report.Dropped(DropReasons.EmptyResponse));
        Assert.Equal(1, report.Dropped(DropReasons.IdenticalPair));
        Assert.Equal(1, report.Dropped(DropReasons.PromptTooLong));
        Assert.Equal(1, report.Dropped(DropReasons.TotalTooLong));
        Assert.Equal($"{path}:2", report.Drops.Single(d => d.Reason == DropReasons.MultiTurn).FirstLocation);

        Assert.Equal(new PreferencePair("### Question: What is tea?\n### Answer: ", "Tea is a drink.<|endoftext|>", "No idea.<|endoftext|>"), pairs[0]);
        Assert.Equal("Let me explain: it works.<|endoftext|>", pairs[1].Chosen);

        string table = report.ToString();
        Assert.Contains("single-turn", table);
        Assert.Contains("prompt too long", table);
        Assert.Contains("bad row: invalid JSON", table);
    }

    [Fact]
    public void Preference_LetMeExplainRecipe_AsSeed003()
    {
        using var tmp = new DataTempFolder();
        var (pairs, report) = PreferencePipeline.Run(WriteHandMade(tmp), Small(recipe: true));

        Assert.Equal([("read", 7), ("single-turn", 6), ("extract", 5), ("let-me-explain", 4), ("length", 2)],
            report.Steps.Select(s => (s.Name, s.Count)));
        Assert.Equal(1, report.Dropped(DropReasons.AlreadyLetMeExplain));
        Assert.Equal(0, report.Dropped(DropReasons.IdenticalPair)); // rejected is derived from the chosen answer
        Assert.Equal(new PreferencePair("### Question: What is tea?\n### Answer: ",
            "Let me explain. Tea is a drink.<|endoftext|>", "Tea is a drink.<|endoftext|>"), pairs[0]);
        Assert.Equal(new PreferencePair("### Question: Same?\n### Answer: ",
            "Let me explain. Same answer.<|endoftext|>", "Same answer.<|endoftext|>"), pairs[1]);
    }

    [Fact]
    public void Preference_BadRowThrowsWithoutSkip()
    {
        using var tmp = new DataTempFolder();
        string path = WriteHandMade(tmp);
        var e = Assert.Throws<DataFormatException>(() => PreferencePipeline.Run(path, Small(false) with { SkipBadRows = false }));
        Assert.StartsWith($"{path}:3: invalid JSON (", e.Message);
    }

    [Fact]
    public void Preference_MultiTurnKept_WhenFilterOff_WithLastTurnExtraction()
    {
        using var tmp = new DataTempFolder();
        string path = WriteHandMade(tmp);
        var (pairs, report) = PreferencePipeline.Run(path, Small(false) with
        {
            SingleTurnOnly = false, Extraction = HhExtraction.LastTurn, Encoder = null,
        });
        Assert.DoesNotContain(report.Steps, s => s.Name is "single-turn" or "length");
        Assert.Contains(pairs, p => p.Prompt == "### Question: Human: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n### Answer: "
                                    && p.Chosen == "Knock knock.<|endoftext|>" && p.Rejected == "No.<|endoftext|>");
    }

    [Fact]
    public void Preference_TokenisesPromptAndResponseSeparately()
    {
        using var tmp = new DataTempFolder();
        var seen = new List<string>();
        var encoder = new DelegateTextEncoder(t => { seen.Add(t); return new int[t.Length]; });
        PreferencePipeline.Run(WriteHandMade(tmp), Small(true) with { Encoder = encoder, MaxLength = 100_000, MaxPromptLength = 100_000 }); // DPO: apart
        Assert.NotEmpty(seen);
        Assert.All(seen, t => Assert.False(t.Contains("### Question") && t.Contains("<|endoftext|>"), $"encoded prompt and response together: {t}"));
        Assert.Contains("### Question: What is tea?\n### Answer: ", seen);
        Assert.Contains("Let me explain. Tea is a drink.<|endoftext|>", seen);
    }

    [Fact]
    public void Preference_CheckRejectedLength()
    {
        using var tmp = new DataTempFolder();
        string longRejected = string.Join(' ', Enumerable.Range(1, 30).Select(i => $"w{i}"));
        string path = tmp.Write("p.jsonl", Line(Hh("Q?", "Short."), Hh("Q?", longRejected)) + "\n");
        Assert.Single(PreferencePipeline.Run(path, Small(false)).Examples);
        Assert.Empty(PreferencePipeline.Run(path, Small(false) with { CheckRejectedLength = true }).Examples);
        // Reward data checks the rejected text always (the textbook's len(input_ids_rejected) <= max_length).
        Assert.Empty(PreferencePipeline.Run(path, Small(false) with { Task = DataTask.Reward }).Examples);
    }

    [Fact]
    public void Preference_ExplicitAndConversationalFormats()
    {
        using var tmp = new DataTempFolder();
        string explicitPath = tmp.Write("e.jsonl",
            "{\"prompt\":\"P1\",\"chosen\":\"good\",\"rejected\":\"bad\",\"margin\":2}\n{\"prompt\":\"P2\",\"chosen\":\"same\",\"rejected\":\"same\"}\n");
        var (pairs, report) = PreferencePipeline.Run(explicitPath, new DataPipelineOptions { Template = PromptTemplate.Raw, DropIdenticalPairs = true });
        Assert.Equal([new PreferencePair("P1", "good", "bad", 2f)], pairs);
        Assert.Equal(1, report.Dropped(DropReasons.IdenticalPair));
        Assert.Equal(2, PreferencePipeline.Run(explicitPath, new DataPipelineOptions { Template = PromptTemplate.Raw }).Examples.Count);

        string conv = tmp.Write("c.json", """
            [{"chosen":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}],"rejected":[{"role":"user","content":"Q"},{"role":"assistant","content":"B"}]},
             {"chosen":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"Q2"},{"role":"assistant","content":"A2"}],
              "rejected":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"Q2"},{"role":"assistant","content":"B2"}]}]
            """);
        var (cp, cr) = PreferencePipeline.Run(conv, new DataPipelineOptions { FlattenMessages = true });
        Assert.Equal([new PreferencePair("### Question: Q\n### Answer: ", "A<|endoftext|>", "B<|endoftext|>")], cp);
        Assert.Equal(1, cr.Dropped(DropReasons.MultiTurn));
        Assert.Equal($"{conv}:element 2", cr.Drops.Single().FirstLocation);
    }

    [Fact]
    public void Preference_FormatOverride_And_SftDataRejected()
    {
        using var tmp = new DataTempFolder();
        // With Format = HhRlhf, a row that also has "prompt" is read as hh-rlhf (prompt ignored).
        string path = tmp.Write("p.jsonl", JsonSerializer.Serialize(new { prompt = "ignored", chosen = Hh("Q?", "A."), rejected = Hh("Q?", "B.") }) + "\n");
        var (pairs, _) = PreferencePipeline.Run(path, new DataPipelineOptions { Format = DataFormat.HhRlhf, Template = PromptTemplate.Raw });
        Assert.Equal([new PreferencePair("Q?", "A.", "B.")], pairs);

        string sft = tmp.Write("s.jsonl", "{\"instruction\":\"i\",\"response\":\"r\"}\n");
        var e = Assert.Throws<DataFormatException>(() => PreferencePipeline.Run(sft, new DataPipelineOptions { SkipBadRows = true }));
        Assert.Contains("train SFT on it", e.Message);
        Assert.DoesNotContain("Pipeline", e.Message);
    }

    [Fact]
    public void Preference_RankedRowsBecomePairs()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("r.jsonl", "{\"prompt\":\"P\",\"responses\":[\"b\",\"a\",\"c\"],\"scores\":[2,3,1]}\n");
        var (pairs, report) = PreferencePipeline.Run(path, new DataPipelineOptions { Template = PromptTemplate.Raw });
        Assert.Equal(3, report.CountAfter("extract"));
        Assert.Equal([("a", "b"), ("a", "c"), ("b", "c")], pairs.Select(p => (p.Chosen, p.Rejected)));
    }

    [Fact]
    public void Options_Validate()
    {
        Assert.Contains("MaxPromptLength must be in 1..MaxLength=512 (got 600)",
            Assert.Throws<ArgumentException>(() => new DataPipelineOptions { MaxPromptLength = 600 }.Validate()).Message);
        Assert.Contains("MaxLength must be positive (got 0)",
            Assert.Throws<ArgumentException>(() => new DataPipelineOptions { MaxLength = 0 }.Validate()).Message);
    }

    [Fact]
    public void Sft_CountsAndRendering()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("sft.jsonl", string.Join("\n",
            "{\"instruction\":\"Say hi\",\"response\":\"Hi!\"}",
            "{\"question\":\"Q\",\"answer\":\"\"}",
            JsonSerializer.Serialize(new { text = Hh("A", "B", "C", "D") }),
            JsonSerializer.Serialize(new { text = Hh("Name a fruit", "Apple.") }),
            "{\"messages\":[{\"role\":\"user\",\"content\":\"U\"},{\"role\":\"assistant\",\"content\":\"V\"}]}",
            "{\"prompt\":\"one two three four five six seven eight\",\"completion\":\"x\"}",
            "{\"instruction\":\"nothing\"}") + "\n");
        var options = new DataPipelineOptions { Encoder = new WordEncoder(), MaxLength = 20, MaxPromptLength = 10, SkipBadRows = true, Task = DataTask.Sft, FlattenMessages = true };
        var (examples, report) = SftPipeline.Run(path, options);
        Assert.Equal([("read", 6), ("single-turn", 5), ("extract", 5), ("length", 4)], report.Steps.Select(s => (s.Name, s.Count)));
        Assert.Equal(1, report.Dropped("missing field 'response'"));
        Assert.Equal(1, report.Dropped(DropReasons.PromptTooLong));
        Assert.Equal(new InstructionExample("### Question: Say hi\n### Answer: ", "Hi!<|endoftext|>"), examples[0]);
        Assert.Equal(new InstructionExample("### Question: Q\n### Answer: ", "<|endoftext|>"), examples[1]);
        Assert.Equal(new InstructionExample("### Question: Name a fruit\n### Answer: ", "Apple.<|endoftext|>"), examples[2]);
        Assert.Equal(new InstructionExample("### Question: U\n### Answer: ", "V<|endoftext|>"), examples[3]);

        var (_, dropping) = SftPipeline.Run(path, options with { DropEmptyAnswers = true });
        Assert.Equal(4, dropping.CountAfter("extract"));
        Assert.Equal(1, dropping.Dropped(DropReasons.EmptyResponse));
    }

    [Fact]
    public void Sft_FromHhChosenSide()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("hh.jsonl", Line(Hh("Q?", "Good."), Hh("Q?", "Bad.")) + "\n"
            + Line(Hh("Q2?", "Fine."), Hh("Q2?", "Hm.", "And?", "Two turns.")) + "\n"
            + JsonSerializer.Serialize(new { chosen = "\n\nHuman: no answer at all", rejected = Hh("x", "y") }) + "\n");
        var (examples, report) = SftPipeline.Run(path, new DataPipelineOptions());
        Assert.Equal([new InstructionExample("### Question: Q?\n### Answer: ", "Good.<|endoftext|>")], examples);
        // The reward data's single-turn filter: a two-turn rejected side drops the row for SFT too.
        Assert.Equal(1, report.Dropped(DropReasons.MultiTurn));
        Assert.Equal($"{path}:3", report.Drops.Single(d => d.Reason == DropReasons.NoAssistantTurn).FirstLocation);
    }

    [Fact]
    public void Preference_TextWithoutAssistantTurn_IsANamedDropWithItsLine()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("hh.jsonl", Line(Hh("Q?", "Good."), Hh("Q?", "Bad.")) + "\n"
            + JsonSerializer.Serialize(new { chosen = "\n\nHuman: no answer at all", rejected = Hh("x", "y") }) + "\n");
        var (pairs, report) = PreferencePipeline.Run(path, new DataPipelineOptions());
        Assert.Single(pairs);
        Assert.Equal(1, report.Dropped(DropReasons.NoAssistantTurn));
        Assert.Equal($"{path}:2", report.Drops.Single().FirstLocation);
    }

    [Fact]
    public void Reward_TokenisesTheWholeText()
    {
        using var tmp = new DataTempFolder();
        var seen = new List<string>();
        var encoder = new DelegateTextEncoder(t => { seen.Add(t); return new int[t.Length]; });
        PreferencePipeline.Run(WriteHandMade(tmp), new DataPipelineOptions { Encoder = encoder, SkipBadRows = true });
        Assert.Contains("### Question: What is tea?\n### Answer: Tea is a drink.<|endoftext|>", seen);
        Assert.Contains("### Question: What is tea?\n### Answer: No idea.<|endoftext|>", seen);
        Assert.DoesNotContain("### Question: What is tea?\n### Answer: ", seen);
    }

    [Fact]
    public void LetMeExplainRecipe_BuildsPairsFromDemonstrations()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("sft.jsonl", string.Join("\n",
            JsonSerializer.Serialize(new { instruction = "What is tea?", response = "Tea is a drink." }),
            JsonSerializer.Serialize(new { instruction = "How?", response = "Let me explain: like this." })) + "\n");
        var result = PreferencePipeline.Run(path, Small(recipe: true) with { Template = PromptTemplate.Raw });
        var pair = Assert.Single(result.Examples);
        Assert.Equal("Let me explain. Tea is a drink.", pair.Chosen.Replace("<|endoftext|>", ""));
        Assert.Equal("Tea is a drink.", pair.Rejected.Replace("<|endoftext|>", ""));
        // Without the recipe, demonstrations are not preference data.
        Assert.Throws<DataFormatException>(() => PreferencePipeline.Run(path, Small(recipe: false)));
    }
}
