// Parse errors in the user's terms: an unknown option or command with the closest names, a value that is not a number
// (never a .NET type name), then one usage line — instead of System.CommandLine's whole help page.
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Rlhf.Cli;

internal static class ParseErrors
{
    /// <summary>One line per problem; the tokens that follow an unknown option (its value) are not reported again.</summary>
    public static IReadOnlyList<string> Describe(ParseResult parse)
    {
        var lines = new List<string>();
        var command = parse.CommandResult.Command;
        var unmatched = parse.UnmatchedTokens;
        for (int i = 0; i < unmatched.Count; i++)
        {
            string token = unmatched[i];
            if (token.StartsWith('-'))
            {
                lines.Add($"unknown option '{token}'{Suggest(token, OptionNames(parse.CommandResult))}");
                while (i + 1 < unmatched.Count && !unmatched[i + 1].StartsWith('-')) i++; // its value
            }
            else if (command.Subcommands.Count > 0)
                lines.Add($"unknown command '{token}'{Suggest(token, command.Subcommands.SelectMany(c => c.Aliases.Prepend(c.Name)))}");
            else
                lines.Add($"unexpected argument '{token}'");
        }
        foreach (var error in parse.Errors)
        {
            if (error.Message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal)) continue; // reported above
            string line;
            if (error.Message.StartsWith("Required command was not provided", StringComparison.Ordinal))
            {
                if (lines.Count > 0) continue;
                line = "give a command: " + string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
            }
            else if (IsConversionError(error.Message) && Target(error.SymbolResult) is var (name, type, tokens))
                line = $"{name} expects {Expected(type)} (got '{tokens}')";
            else line = error.Message;
            if (!lines.Contains(line)) lines.Add(line);
        }
        return lines;
    }

    /// <summary>"usage: rlhf sft [options]  (rlhf sft --help lists them)".</summary>
    public static string Usage(Command command, ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is CommandResult c; result = c.Parent) names.Insert(0, c.Command.Name);
        if (names.Count > 0) names[0] = "rlhf";
        string path = string.Join(' ', names);
        string usage = path
            + (command.Subcommands.Count > 0 ? " <command>" : "")
            + string.Concat(command.Arguments.Select(a => $" <{a.Name}>"))
            + (command.Options.Count > 0 ? " [options]" : "");
        return $"usage: {usage}  ({path} --help for details)";
    }

    /// <summary>The option or argument a value was meant for, its type and the value as typed.</summary>
    private static (string Name, Type Type, string Tokens)? Target(SymbolResult? result) => result switch
    {
        OptionResult o => (o.Option.Name, o.Option.ValueType, string.Join(' ', o.Tokens.Select(t => t.Value))),
        ArgumentResult { Parent: OptionResult o } a => (o.Option.Name, o.Option.ValueType, string.Join(' ', a.Tokens.Select(t => t.Value))),
        ArgumentResult a => ($"<{a.Argument.Name}>", a.Argument.ValueType, string.Join(' ', a.Tokens.Select(t => t.Value))),
        _ => null,
    };

    private static bool IsConversionError(string message) => message.Contains("expected type", StringComparison.Ordinal) || message.StartsWith("Cannot parse argument", StringComparison.Ordinal);

    private static string Expected(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(float) || t == typeof(double) || t == typeof(decimal) => "a number",
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(uint) || t == typeof(ulong) => "a whole number ≥ 0",
        var t when t == typeof(bool) => "true or false",
        var t when t.IsEnum => "one of " + string.Join(", ", Enum.GetNames(t)),
        _ => "a value of another form (see --help)",
    };

    /// <summary>The options a token could have meant: the command's own and the recursive ones of its parents.</summary>
    private static IEnumerable<string> OptionNames(CommandResult result)
    {
        foreach (var option in result.Command.Options)
            foreach (var name in option.Aliases.Prepend(option.Name)) yield return name;
        for (var parent = result.Parent as CommandResult; parent is not null; parent = parent.Parent as CommandResult)
            foreach (var option in parent.Command.Options.Where(o => o.Recursive))
                foreach (var name in option.Aliases.Prepend(option.Name)) yield return name;
    }

    /// <summary>"; did you mean --max-steps?" for the names within a few edits (or sharing a prefix), else "".</summary>
    public static string Suggest(string token, IEnumerable<string> candidates)
    {
        string bare = token.Split('=', 2)[0].TrimStart('-');
        var close = candidates.Distinct()
            .Select(name => (Name: name, Distance: Distance(bare, name.TrimStart('-'))))
            .Where(x => x.Distance <= Math.Max(2, bare.Length / 3) || (bare.Length >= 3 && x.Name.TrimStart('-').StartsWith(bare, StringComparison.Ordinal)))
            .OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal)
            .Take(3).Select(x => x.Name).ToArray();
        return close.Length == 0 ? "" : $"; did you mean {string.Join(" or ", close)}?";
    }

    /// <summary>Levenshtein distance (insertions, deletions and substitutions cost 1).</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
