// The one place that decides how the `rlhf` command writes (DESIGN §6): colour, links, live widgets and wrapping only on
// a terminal; NO_COLOR (https://no-color.org) turns colour off; redirected output is plain and never wrapped.
using Spectre.Console;

namespace Rlhf.Cli;

internal static class CliConsole
{
    /// <summary>The width given to Spectre off a terminal: wide enough that no line, table or number is broken.</summary>
    public const int UnwrappedWidth = 4096;

    /// <summary>True when NO_COLOR is set to a non-empty value.</summary>
    public static bool NoColor => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>A console for standard output (Console.Out as it is now, so tests that redirect it see the text).</summary>
    public static IAnsiConsole ForOut() => Create(Console.Out, IsTerminal(Console.Out, Console.IsOutputRedirected), NoColor);

    /// <summary>A console for standard error (errors and warnings).</summary>
    public static IAnsiConsole ForError() => Create(Console.Error, IsTerminal(Console.Error, Console.IsErrorRedirected), NoColor);

    /// <summary>
    /// A console on <paramref name="writer"/>. On a terminal: colours (none with <paramref name="noColor"/>), links,
    /// progress bars and the terminal's width. Elsewhere: no escape codes at all, no live widgets, no wrapping.
    /// </summary>
    public static IAnsiConsole Create(TextWriter writer, bool terminal, bool noColor)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = terminal && !noColor ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
        });
        console.Profile.Capabilities.Links = terminal;
        if (!terminal) console.Profile.Width = UnwrappedWidth;
        return console;
    }

    /// <summary>Whether <paramref name="writer"/> is the process's own stream and that stream is a terminal.</summary>
    private static bool IsTerminal(TextWriter writer, bool redirected) =>
        !redirected && new AnsiConsoleOutput(writer).IsTerminal;
}
