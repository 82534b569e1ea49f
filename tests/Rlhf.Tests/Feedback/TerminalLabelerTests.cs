// `rlhf label --tui`: the terminal flow driven through a text input, and its order / flag syntax.
using Rlhf.Cli.Labeling;
using Rlhf.Feedback;
using Rlhf.Tests.Support;
using Spectre.Console;
using Xunit;

namespace Rlhf.Tests.Feedback;

public class TerminalLabelerTests
{
    private static (TerminalLabeler Labeler, StringWriter Screen) Create(LabelingSession session, string input)
    {
        var screen = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(screen), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        return (new TerminalLabeler(session, console, new StringReader(input)), screen);
    }

    [Fact]
    public void RanksSkipsRetriesAndQuits()
    {
        using var dir = new TempDirectory();
        var session = LabelFixtures.Session(dir.Sub("f.jsonl"), prompts: 4);
        var prompts = LabelFixtures.Prompts(4);
        // Prompt 0: "2 1 4 3" with 3 harmful. Prompt 1: a bad order, then "3=1 2" (4 implied) no flags. Prompt 2: skip. Prompt 3: quit.
        var (labeler, screen) = Create(session, "2 1 4 3\n3h\n9 9\n3=1 2\n\ns\nq\n");
        Assert.Equal(2, labeler.Run());
        var records = session.Store.Read().Records;
        Assert.Equal([prompts[0].Id, prompts[1].Id], records.Select(r => r.PromptId));
        var first = records[0];
        var shown = LabelFixtures.Session(dir.Sub("g.jsonl"), prompts: 4).Current()!.Responses;
        Assert.Equal(new[] { shown[1], shown[0], shown[3], shown[2] }, first.Responses);
        Assert.Equal(["harmful"], first.Flags[3]);
        Assert.Equal([[0, 1]], records[1].Ties.Select(t => t.ToArray()));
        Assert.Equal(4, records[1].Responses.Count);
        string text = screen.ToString();
        Assert.Contains("question number 0?", text);
        Assert.Contains("try again", text);
        Assert.Contains("Stopped", text);

        // Restarting resumes: prompts 0 and 1 are done; the skipped prompt 2 was not written and comes first again.
        var resumed = LabelFixtures.Session(dir.Sub("f.jsonl"), prompts: 4);
        var (again, _) = Create(resumed, "1234\n\n4321\n2u 2h\n");
        Assert.Equal(2, again.Run());
        var all = resumed.Store.Read().Records;
        Assert.Equal(4, all.Count);
        Assert.Equal(prompts[2].Id, all[2].PromptId);
        Assert.Equal(["untruthful", "harmful"], all[3].Flags[2]);
    }

    [Theory]
    [InlineData("2 1 4 3", 4, new[] { 1, 0, 3, 2 }, "")]
    [InlineData("2143", 4, new[] { 1, 0, 3, 2 }, "")]
    [InlineData("2>1>4", 4, new[] { 1, 0, 3, 2 }, "")]
    [InlineData("2=1 4=3", 4, new[] { 1, 0, 3, 2 }, "1,0;3,2")]
    [InlineData("1,2", 2, new[] { 0, 1 }, "")]
    public void OrdersParse(string line, int k, int[] order, string ties)
    {
        var (parsedOrder, parsedTies) = TerminalLabeler.ParseOrder(line, k);
        Assert.Equal(order, parsedOrder);
        Assert.Equal(ties, string.Join(";", parsedTies.Select(t => string.Join(",", t))));
    }

    [Theory]
    [InlineData("1 2", 4)]
    [InlineData("1 1 2 3", 4)]
    [InlineData("0 1 2 3", 4)]
    [InlineData("1 2 3 5", 4)]
    [InlineData("a b c d", 4)]
    [InlineData("", 4)]
    public void BadOrdersAreRejected(string line, int k) =>
        Assert.Throws<FeedbackValidationException>(() => TerminalLabeler.ParseOrder(line, k));

    [Fact]
    public void FlagsParse()
    {
        var flags = TerminalLabeler.ParseFlags("3h 4U 1hu", 4);
        Assert.Equal(["harmful"], flags[2]);
        Assert.Equal(["untruthful"], flags[3]);
        Assert.Equal(["harmful", "untruthful"], flags[0]);
        Assert.Empty(TerminalLabeler.ParseFlags("  ", 4));
        Assert.Throws<FeedbackValidationException>(() => TerminalLabeler.ParseFlags("5h", 4));
        Assert.Throws<FeedbackValidationException>(() => TerminalLabeler.ParseFlags("3x", 4));
    }
}

public class GuidelinesMarkupTests
{
    [Fact]
    public void TheTerminalShowsTheGuidelinesRenderedNotRaw()
    {
        const string markdown = "# Rank\nOrder them **best to worst**; *helpful* first.\n- `2 1 3`\n- a [bracket]\n";
        Assert.Equal("[bold underline]Rank[/]\nOrder them [bold]best to worst[/]; [italic]helpful[/] first.\n  • [aqua]2 1 3[/]\n  • a [[bracket]]",
            SimpleMarkdown.ToMarkup(markdown));
        var screen = new StringWriter();
        var console = Rlhf.Cli.CliConsole.Create(screen, terminal: false, noColor: false);
        console.Write(new Markup(SimpleMarkdown.ToMarkup(markdown)));
        string text = screen.ToString();
        Assert.Contains("Order them best to worst; helpful first.", text);
        Assert.Contains("• a [bracket]", text);
        Assert.DoesNotContain("**", text);
        Assert.DoesNotContain("#", text);
    }
}
