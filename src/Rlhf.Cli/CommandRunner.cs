// Runs a parsed command line. Every failure is one line on standard error in the user's terms (option names, files,
// fields), exit code 1; the stack trace only with --verbose. A mistyped option prints the suggestion and the usage line.
using System.CommandLine;
using System.CommandLine.Invocation;
using Spectre.Console;

namespace Rlhf.Cli;

internal static class CommonOptions
{
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces on errors.", Recursive = true };

    public static readonly Option<bool> AllowNonFiniteWeights = new("--allow-nonfinite-weights")
    {
        Description = "Load model files whose weights hold NaN or Inf (refused by default: they come from a diverged or damaged run).",
        Recursive = true,
    };
}

internal static class CommandRunner
{
    public static int Invoke(RootCommand root, string[] args)
    {
        // Every command (and Spectre's static AnsiConsole) writes through the one console that follows the output rules.
        AnsiConsole.Console = CliConsole.ForOut();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is ParseErrorAction)
        {
            var console = CliConsole.ForError();
            foreach (var line in ParseErrors.Describe(parse)) WriteError(console, line);
            PlainLine(console, ParseErrors.Usage(parse.CommandResult.Command, parse));
            return 1;
        }
        try
        {
            Rlhf.Models.SafeTensors.AllowNonFinite = parse.GetValue(CommonOptions.AllowNonFiniteWeights);
            return parse.Invoke();
        }
        catch (Exception error)
        {
            return Report(error, parse.GetValue(CommonOptions.Verbose));
        }
    }

    /// <summary>Wraps a command body so that every failure is reported the same way.</summary>
    public static Func<ParseResult, int> Guard(Func<ParseResult, int> body) => parse =>
    {
        try
        {
            return body(parse);
        }
        catch (Exception error)
        {
            return Report(error, parse.GetValue(CommonOptions.Verbose));
        }
    };

    /// <summary>The one-line text of an error as the user sees it (see <see cref="Report"/>).</summary>
    public static string Describe(Exception error)
    {
        while (error is AggregateException { InnerExceptions.Count: 1 } aggregate) error = aggregate.InnerExceptions[0];
        string message = error is ArgumentException argument && argument.ParamName is { } name
            ? argument.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal)
            : error.Message;
        message = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return IsUserError(error) ? message : $"internal error: {message} (run again with --verbose and report it)";
    }

    /// <summary>Errors that describe bad input or an environment problem, as opposed to a bug in this program.</summary>
    private static bool IsUserError(Exception error) =>
        error is ArgumentException or IOException or FormatException or UnauthorizedAccessException or NotSupportedException
            or OperationCanceledException or InvalidOperationException or System.Text.Json.JsonException
        || error.GetType().Namespace?.StartsWith("Rlhf", StringComparison.Ordinal) == true;

    private static int Report(Exception error, bool verbose)
    {
        var console = CliConsole.ForError();
        WriteError(console, Describe(error));
        if (verbose) PlainLine(console, error.ToString());
        return 1;
    }

    private static void WriteError(IAnsiConsole console, string line) => console.MarkupLine($"[red]error:[/] {Markup.Escape(line)}");

    private static void PlainLine(IAnsiConsole console, string text) => console.Profile.Out.Writer.WriteLine(text);
}
