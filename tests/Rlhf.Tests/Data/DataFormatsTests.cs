// Tests for format detection and the per-format parsers (hh-rlhf, TRL explicit/conversational, SFT, ranked).
using System.Text.Json;
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class DataFormatsTests
{
    private static DataRow Row(string json, int line = 7) => new("f.jsonl", line, false, JsonDocument.Parse(json).RootElement.Clone());

    [Theory]
    [InlineData("{\"chosen\":\"\\n\\nHuman: a\\n\\nAssistant: b\",\"rejected\":\"x\"}", nameof(DataFormat.HhRlhf))]
    [InlineData("{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}", nameof(DataFormat.PreferenceExplicit))]
    [InlineData("{\"chosen\":[{\"role\":\"user\",\"content\":\"q\"}],\"rejected\":[]}", nameof(DataFormat.PreferenceConversational))]
    [InlineData("{\"prompt\":\"p\",\"responses\":[\"a\",\"b\"]}", nameof(DataFormat.Ranked))]
    [InlineData("{\"instruction\":\"i\",\"response\":\"r\"}", nameof(DataFormat.Instruction))]
    [InlineData("{\"prompt\":\"i\",\"completion\":\"r\"}", nameof(DataFormat.Instruction))]
    [InlineData("{\"question\":\"i\",\"answer\":\"r\"}", nameof(DataFormat.Instruction))]
    [InlineData("{\"text\":\"\\n\\nHuman: a\\n\\nAssistant: b\"}", nameof(DataFormat.Instruction))]
    [InlineData("{\"messages\":[]}", nameof(DataFormat.Instruction))]
    public void Detect_FromKeys(string json, string expected) => Assert.Equal(Enum.Parse<DataFormat>(expected), DataFormats.Detect(Row(json)));

    [Fact]
    public void Detect_UnknownKeys_SaysWhatIsExpected()
    {
        var e = Assert.Throws<DataFormatException>(() => DataFormats.Detect(Row("{\"foo\":1}")));
        Assert.StartsWith("f.jsonl:7: cannot tell the data format from the fields 'foo'", e.Message);
    }

    [Fact]
    public void HhRlhf_UsesSeedExtraction()
    {
        var p = DataFormats.ParsePreference(Row("{\"chosen\":\"\\n\\nHuman: Q?\\n\\nAssistant: Good.\",\"rejected\":\"\\n\\nHuman: Q?\\n\\nAssistant: Bad.\"}"), DataFormat.HhRlhf);
        Assert.Equal(new PreferencePair("Q?", "Good.", "Bad."), p);
    }

    [Fact]
    public void Explicit_WithMargin_AndWrongTypes()
    {
        Assert.Equal(new PreferencePair("p", "c", "r", 1.5f),
            DataFormats.ParsePreference(Row("{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\",\"margin\":1.5}"), DataFormat.PreferenceExplicit));
        var e = Assert.Throws<DataFormatException>(() =>
            DataFormats.ParsePreference(Row("{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\",\"margin\":\"big\"}"), DataFormat.PreferenceExplicit));
        Assert.Equal("f.jsonl:7: field 'margin' must be a finite number (found a string)", e.Message);
        var m = Assert.Throws<DataFormatException>(() => DataFormats.ParsePreference(Row("{\"prompt\":\"p\",\"chosen\":\"c\"}"), DataFormat.PreferenceExplicit));
        Assert.StartsWith("f.jsonl:7: field 'rejected' is missing", m.Message);
    }

    [Fact]
    public void Conversational_ImplicitAndExplicitPrompt()
    {
        var implicitRow = Row("""
            {"chosen":[{"role":"user","content":"Hi?"},{"role":"assistant","content":"Hello."}],
             "rejected":[{"role":"user","content":"Hi?"},{"role":"assistant","content":"Go away."}]}
            """);
        Assert.Equal(new PreferencePair("Hi?", "Hello.", "Go away."), DataFormats.ParsePreference(implicitRow, DataFormat.PreferenceConversational));

        var explicitRow = Row("""
            {"prompt":[{"role":"system","content":"Be kind."},{"role":"user","content":"A"},{"role":"assistant","content":"B"},{"role":"user","content":"C"}],
             "chosen":[{"role":"assistant","content":"good"}], "rejected":[{"role":"assistant","content":"bad"}]}
            """);
        var (prompt, chosen, rejected, multiTurn) = DataFormats.ParseConversation(explicitRow);
        Assert.Equal(2, DataFormats.CountUserTurns(prompt));
        Assert.True(multiTurn);
        Assert.Equal("Be kind.\n\nHuman: A\n\nAssistant: B\n\nHuman: C", DataFormats.FlattenPrompt(prompt));
        Assert.Equal(("good", "bad"), (chosen, rejected));
    }

    [Fact]
    public void Conversational_BadMessages()
    {
        var noRole = Row("{\"chosen\":[{\"content\":\"x\"}],\"rejected\":[{\"role\":\"assistant\",\"content\":\"y\"}]}");
        Assert.Equal("f.jsonl:7: field 'chosen' message 1: 'role' must be a string",
            Assert.Throws<DataFormatException>(() => DataFormats.ParseConversation(noRole)).Message);
        var lastUser = Row("{\"chosen\":[{\"role\":\"user\",\"content\":\"x\"}],\"rejected\":[{\"role\":\"assistant\",\"content\":\"y\"}]}");
        Assert.Contains("the last message of 'chosen' has role 'user'", Assert.Throws<DataFormatException>(() => DataFormats.ParseConversation(lastUser)).Message);
    }

    [Theory]
    [InlineData("{\"instruction\":\"I\",\"response\":\"R\"}")]
    [InlineData("{\"prompt\":\"I\",\"completion\":\"R\"}")]
    [InlineData("{\"prompt\":\"I\",\"response\":\"R\"}")]
    [InlineData("{\"question\":\"I\",\"answer\":\"R\"}")]
    [InlineData("{\"text\":\"\\n\\nHuman: I\\n\\nAssistant: R\"}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"I\"},{\"role\":\"assistant\",\"content\":\"R\"}]}")]
    public void Instruction_AllVariants(string json) =>
        Assert.Equal(new InstructionExample("I", "R"), DataFormats.ParseInstruction(Row(json)));

    [Fact]
    public void Instruction_MissingHalf()
    {
        var e = Assert.Throws<DataFormatException>(() => DataFormats.ParseInstruction(Row("{\"instruction\":\"I\"}")));
        Assert.StartsWith("f.jsonl:7: field 'response' is missing", e.Message);
    }

    [Fact]
    public void Ranked_BestFirst_OrSortedByScore()
    {
        var plain = DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"a\",\"b\",\"c\"]}"));
        Assert.Equal(["a", "b", "c"], plain.Responses);
        Assert.Null(plain.Scores);
        Assert.Equal(3, plain.ToPairs().Count());

        var scored = DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"low\",\"high\",\"mid\"],\"scores\":[0.1,2,1]}"));
        Assert.Equal(["high", "mid", "low"], scored.Responses);
        Assert.Equal([2.0, 1.0, 0.1], scored.Scores!);
        var pairs = scored.ToPairs().ToList();
        Assert.Equal(new PreferencePair("p", "high", "mid", 1f), pairs[0]);
        Assert.Equal(("mid", "low"), (pairs[2].Chosen, pairs[2].Rejected));
    }

    [Fact]
    public void Ranked_LabelTies_KeepOneResponsePerTiedGroup()
    {
        // `rlhf label` output: A > B = C > D. B and C must not be ordered, so C is dropped from the ranking.
        var ranked = DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"A\",\"B\",\"C\",\"D\"],\"ties\":[[1,2]]}"));
        Assert.Equal(["A", "B", "D"], ranked.Responses);
        Assert.Contains("all responses are tied",
            Assert.Throws<DataFormatException>(() => DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"A\",\"B\"],\"ties\":[[0,1]]}"))).Message);
        Assert.Throws<DataFormatException>(() => DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"A\",\"B\"],\"ties\":[[0,5]]}")));
    }

    [Fact]
    public void Ranked_Errors()
    {
        Assert.Contains("'scores' has 1 values but 'responses' has 2",
            Assert.Throws<DataFormatException>(() => DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"a\",\"b\"],\"scores\":[1]}"))).Message);
        Assert.Contains("a ranking needs at least 2",
            Assert.Throws<DataFormatException>(() => DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"a\"]}"))).Message);
        Assert.Equal("f.jsonl:7: field 'responses' element 2 must be a string (found a number)",
            Assert.Throws<DataFormatException>(() => DataFormats.ParseRanked(Row("{\"prompt\":\"p\",\"responses\":[\"a\",3]}"))).Message);
    }
}
