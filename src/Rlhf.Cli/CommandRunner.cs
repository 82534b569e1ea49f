// Runs a parsed command line; errors become a single red line (the stack trace only with --verbose).
using System.CommandLine;
using Spectre.Console;

namespace Rlhf.Cli;

public static class CommonOptions
{
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces on errors.", Recursive = true };

    public static readonly Option<bool> AllowNonFiniteWeights = new("--allow-nonfinite-weights")
    {
        Description = "Load model files whose weights hold NaN or Inf (refused by default: they come from a diverged or damaged run).",
        Recursive = true,
    };
}

public static class CommandRunner
{
    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
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

    private static int Report(Exception error, bool verbose)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.MarkupLine($"[red]error:[/] {Markup.Escape(error.Message)}");
        if (verbose) console.WriteLine(error.ToString());
        return 1;
    }
}
