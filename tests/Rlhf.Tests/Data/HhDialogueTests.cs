// Tests for HhDialogue: the seed's count/filter/extraction (quirks included) and multi-turn splitting.
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class HhDialogueTests
{
    private const string Single = "\n\nHuman: What is 2+2?\n\nAssistant: It is 4.";
    private const string Multi = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke\n\nAssistant: Why did the chicken cross the road?";

    [Fact]
    public void CountHuman_CountsNonOverlappingOccurrences()
    {
        Assert.Equal(1, HhDialogue.CountHuman(Single));
        Assert.Equal(2, HhDialogue.CountHuman(Multi));
        Assert.Equal(0, HhDialogue.CountHuman("Human:no space"));
        Assert.Equal(2, HhDialogue.CountHuman("Human: Human: "));
        Assert.Equal(0, HhDialogue.CountHuman(""));
    }

    [Fact]
    public void IsSingleTurn_LooksAtBothTexts()
    {
        Assert.True(HhDialogue.IsSingleTurn(Single, Single));
        Assert.False(HhDialogue.IsSingleTurn(Single, Multi));
        Assert.False(HhDialogue.IsSingleTurn(Multi, Single));
        // "Human: " quoted inside an answer counts as a second turn, exactly like the seed's str.count.
        Assert.False(HhDialogue.IsSingleTurn(Single + " Write \"Human: hi\".", Single));
    }

    [Fact]
    public void ExtractConversation_SingleTurn()
    {
        Assert.Equal(("What is 2+2?", "It is 4."), HhDialogue.ExtractConversation(Single));
    }

    [Fact]
    public void ExtractConversation_MatchesSeedQuirks()
    {
        // Multi-turn: parts[1] is everything between the first and second "Assistant: ".
        Assert.Equal(("Hi there", "Hello! How can I help?\n\nHuman: Tell me a joke"), HhDialogue.ExtractConversation(Multi));
        // No "Assistant: " (with the space) → ("", "").
        Assert.Equal(("", ""), HhDialogue.ExtractConversation("\n\nHuman: hello"));
        Assert.Equal(("", ""), HhDialogue.ExtractConversation("\n\nHuman: hello\n\nAssistant:"));
        // Empty answer.
        Assert.Equal(("hello", ""), HhDialogue.ExtractConversation("\n\nHuman: hello\n\nAssistant: "));
        // "Human: " inside the question part is removed everywhere (str.replace), inside the answer kept.
        Assert.Equal(("say hi", "Sure. Human: hi"), HhDialogue.ExtractConversation("\n\nHuman: say Human: hi\n\nAssistant: Sure. Human: hi"));
        Assert.Equal(("say hi", "Sure."), HhDialogue.ExtractConversation("Human: say Human: hi Assistant: Sure."));
        // Python's strip() also removes U+001C..U+001F.
        Assert.Equal(("q", "a"), HhDialogue.ExtractConversation("\x1fHuman: q\u00a0Assistant: a\x1c\t"));
    }

    [Fact]
    public void SplitAtLastAssistant_KeepsEverythingUpToTheMarker()
    {
        var (prompt, response) = HhDialogue.SplitAtLastAssistant(Multi)!.Value;
        Assert.Equal("\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke\n\nAssistant:", prompt);
        Assert.Equal(" Why did the chicken cross the road?", response);
        Assert.Equal(Multi, prompt + response);
        Assert.Null(HhDialogue.SplitAtLastAssistant("\n\nHuman: no answer"));
    }

    [Fact]
    public void ExtractLastTurn_GivesDialogueAndFinalAnswer()
    {
        Assert.Equal(("Human: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke", "Why did the chicken cross the road?"),
            HhDialogue.ExtractLastTurn(Multi));
        Assert.Equal(("Human: What is 2+2?", "It is 4."), HhDialogue.ExtractLastTurn(Single));
        Assert.Equal(("", ""), HhDialogue.ExtractLastTurn("\n\nHuman: no answer"));
    }

    [Fact]
    public void ParseTurns_RolesAndTexts()
    {
        var turns = HhDialogue.ParseTurns(Multi);
        Assert.Equal([HhRole.Human, HhRole.Assistant, HhRole.Human, HhRole.Assistant], turns.Select(t => t.Role));
        Assert.Equal("Tell me a joke", turns[2].Text);
        Assert.Equal(Multi, HhDialogue.Format(turns));
        // Without the leading blank line, and with "Human: " inside a turn (not after a blank line) kept as text.
        var t2 = HhDialogue.ParseTurns("Human: quote \"Human: x\" please\n\nAssistant:");
        Assert.Equal(2, t2.Count);
        Assert.Equal("quote \"Human: x\" please", t2[0].Text);
        Assert.Equal("", t2[1].Text);
        Assert.Empty(HhDialogue.ParseTurns("no markers"));
    }
}
