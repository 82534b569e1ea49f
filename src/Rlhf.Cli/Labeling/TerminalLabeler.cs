// `rlhf label --tui`: the same labeling session in a terminal — read orders like "2 1 4 3" from a text input.
using System.Text.RegularExpressions;
using Rlhf.Feedback;
using Spectre.Console;

namespace Rlhf.Cli.Labeling;

/// <summary>
/// Shows each task (prompt + K numbered responses) on <paramref name="console"/> and reads the judgement from
/// <paramref name="input"/> (the terminal's standard input, or a StringReader in tests): first the order best-first
/// with 1-based numbers ("2 1 4 3", "2143" for K ≤ 9, "2=1 4 3" for a tie, s to skip, q to quit), then the flags
/// ("3h 4u": response 3 harmful, 4 untruthful; empty for none). Stops at q, at the end of the input, or when no
/// prompt is left. Returns the number of judgements stored.
/// </summary>
internal sealed partial class TerminalLabeler(LabelingSession session, IAnsiConsole console, TextReader input)
{
    public string GuidelinesMarkdown { get; init; } = Guidelines.Default;

    public int Run()
    {
        int stored = 0;
        console.Write(new Panel(new Markup(SimpleMarkdown.ToMarkup(GuidelinesMarkdown.Trim()))).Header("Guidelines").Border(BoxBorder.Rounded));
        while (session.Current() is { } task)
        {
            Show(task);
            switch (Ask(task))
            {
                case Outcome.Quit:
                    console.WriteLine();
                    console.MarkupLine($"[grey]Stopped; {session.Judged} of {session.Total} prompts judged. Run again to resume.[/]");
                    return stored;
                case Outcome.Stored:
                    stored++;
                    break;
            }
        }
        console.MarkupLine($"[green]All prompts are judged[/] ({session.Judged} of {session.Total}).");
        return stored;
    }

    private enum Outcome { Stored, Skipped, Quit }

    private void Show(LabelTask task)
    {
        console.WriteLine();
        console.Write(new Rule($"[bold]Prompt {task.Judged + 1} of {task.Total}[/] [grey]({Markup.Escape(task.PromptId)})[/]").LeftJustified());
        console.Write(new Panel(new Spectre.Console.Text(task.Prompt)).Header("Prompt").BorderColor(Color.Blue));
        for (int i = 0; i < task.Responses.Count; i++)
        {
            string text = task.Responses[i].Length == 0 ? "(empty response)" : task.Responses[i];
            console.Write(new Panel(new Spectre.Console.Text(text)).Header($"[bold]{i + 1}[/]").Expand());
        }
    }

    private Outcome Ask(LabelTask task)
    {
        int k = task.Responses.Count;
        while (true)
        {
            console.Markup($"Order best→worst [grey](e.g. \"{string.Join(" ", Enumerable.Range(1, k))}\"; \"2=1\" ties; s skip; q quit)[/]: ");
            string? line = input.ReadLine();
            if (line is null) return Outcome.Quit;
            line = line.Trim();
            if (line is "q" or "Q") return Outcome.Quit;
            if (line is "s" or "S")
            {
                session.Skip(task.PromptId);
                console.MarkupLine("[grey]Skipped.[/]");
                return Outcome.Skipped;
            }
            try
            {
                var (order, ties) = ParseOrder(line, k);
                console.Markup("Flags [grey](e.g. \"3h 4u\": 3 harmful, 4 untruthful; Enter for none)[/]: ");
                string? flagLine = input.ReadLine();
                if (flagLine is null) return Outcome.Quit;
                var flags = ParseFlags(flagLine, k);
                session.Submit(new RankSubmission(task.PromptId, order, ties, flags));
                console.MarkupLine("[green]Saved.[/]");
                return Outcome.Stored;
            }
            catch (FeedbackValidationException error)
            {
                console.MarkupLine($"[red]{Markup.Escape(error.Message)}[/] — try again.");
            }
        }
    }

    /// <summary>
    /// Parses an order of 1-based response numbers, best first, into 0-based indices and tie groups. Numbers are
    /// separated by spaces, commas or '>'; '=' joins tied responses; K ≤ 9 digits may be written together ("2143").
    /// The last response may be left out.
    /// </summary>
    public static (int[] Order, IReadOnlyList<IReadOnlyList<int>> Ties) ParseOrder(string line, int responseCount)
    {
        string text = line.Trim();
        if (responseCount <= 9 && CompactOrder().IsMatch(text)) text = string.Join(" ", text.ToCharArray());
        var order = new List<int>();
        var ties = new List<IReadOnlyList<int>>();
        foreach (string part in text.Split([' ', ',', '>', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var group = new List<int>();
            foreach (string number in part.Split('='))
            {
                if (!int.TryParse(number, out int value) || value < 1 || value > responseCount)
                    throw new FeedbackValidationException($"\"{number}\" is not a response number 1..{responseCount}");
                if (order.Contains(value - 1)) throw new FeedbackValidationException($"response {value} appears twice");
                order.Add(value - 1);
                group.Add(value - 1);
            }
            if (group.Count > 1) ties.Add(group);
        }
        if (order.Count == responseCount - 1)
            order.Add(Enumerable.Range(0, responseCount).First(i => !order.Contains(i)));
        if (order.Count != responseCount)
            throw new FeedbackValidationException($"rank all {responseCount} responses (got {order.Count})");
        return (order.ToArray(), ties);
    }

    /// <summary>Parses flags such as "3h 4u 2hu" (1-based response number + h = harmful, u = untruthful) into 0-based indices.</summary>
    public static IReadOnlyDictionary<int, IReadOnlyList<string>> ParseFlags(string line, int responseCount)
    {
        var flags = new Dictionary<int, IReadOnlyList<string>>();
        foreach (string token in line.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var match = FlagToken().Match(token);
            if (!match.Success || !int.TryParse(match.Groups[1].Value, out int number) || number < 1 || number > responseCount)
                throw new FeedbackValidationException($"\"{token}\" is not a flag like \"3h\" (h harmful, u untruthful) for responses 1..{responseCount}");
            var names = match.Groups[2].Value.ToLowerInvariant().Distinct().Select(c => c == 'h' ? "harmful" : "untruthful");
            flags[number - 1] = (flags.TryGetValue(number - 1, out var existing) ? existing : []).Concat(names).Distinct().ToArray();
        }
        return flags;
    }

    [GeneratedRegex(@"^[1-9]{2,9}$")]
    private static partial Regex CompactOrder();

    [GeneratedRegex(@"^(\d+)([hHuU]+)$")]
    private static partial Regex FlagToken();
}
