// The output rules of the `rlhf` command: escape codes only on a terminal (no colour or links with NO_COLOR), redirected
// output plain and never wrapped; errors as one line in the user's terms; a typo gives the suggestion and the usage only.
using System.Text.RegularExpressions;
using Rlhf.Cli;
using Rlhf.Tests.Support;
using Spectre.Console;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class OutputRulesTests : IDisposable
{
    private const string Styled = "[red]red[/] [bold green]done[/] [link=https://example.org]a link[/]";
    private static readonly Regex ColourCode = new(@"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m");

    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private static string Render(bool terminal, bool noColor, string markup)
    {
        var writer = new StringWriter();
        var console = CliConsole.Create(writer, terminal, noColor);
        console.MarkupLine(markup);
        return writer.ToString();
    }

    [Fact]
    public void OffATerminalTheOutputHasNoEscapeCodesAndIsNotWrapped()
    {
        string plain = Render(terminal: false, noColor: false, Styled);
        Assert.DoesNotContain('\x1b', plain);
        Assert.Equal("red done a link", plain.TrimEnd()); // no OSC-8 hyperlink either

        string longLine = string.Join(' ', Enumerable.Range(0, 120).Select(i => $"word{i}"));
        Assert.Equal(longLine, Render(terminal: false, noColor: false, longLine).TrimEnd()); // > 80 columns, one line

        var writer = new StringWriter();
        var console = CliConsole.Create(writer, terminal: false, noColor: false);
        console.Write(new Table().AddColumns("size", "gflops").AddRow("1024×1024×1024", "123.4"));
        Assert.DoesNotContain('\x1b', writer.ToString());
        Assert.Contains("1024×1024×1024", writer.ToString());
        Assert.False(console.Profile.Capabilities.Interactive, "no live widgets in a pipe");
    }

    [Fact]
    public void OnATerminalThereIsColourUnlessNoColorIsSet()
    {
        string coloured = Render(terminal: true, noColor: false, Styled);
        Assert.Matches(ColourCode, coloured);

        string noColour = Render(terminal: true, noColor: true, Styled);
        Assert.DoesNotMatch(ColourCode, noColour);
        Assert.Contains("red", noColour);
    }

    [Fact]
    public void NoColorIsReadFromTheEnvironment()
    {
        string? before = Environment.GetEnvironmentVariable("NO_COLOR");
        try
        {
            Environment.SetEnvironmentVariable("NO_COLOR", "1");
            Assert.True(CliConsole.NoColor);
            Environment.SetEnvironmentVariable("NO_COLOR", "");
            Assert.False(CliConsole.NoColor); // the standard: set and non-empty
        }
        finally
        {
            Environment.SetEnvironmentVariable("NO_COLOR", before);
        }
    }

    [Fact]
    public void CommandOutputInAPipeIsPlain()
    {
        var (code, output, error) = CliRun.Separate("sft", "--max-stepz", "2");
        Assert.Equal(1, code);
        Assert.DoesNotContain('\x1b', output + error);
    }

    [Fact]
    public void ATypoPrintsTheSuggestionAndTheUsageLineOnly()
    {
        var (code, output, error) = CliRun.Separate("sft", "--max-stepz", "2");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["error: unknown option '--max-stepz'; did you mean --max-steps?", "usage: rlhf sft [options]  (rlhf sft --help for details)"], lines);

        var command = CliRun.Separate("sfft");
        Assert.Equal(1, command.Code);
        Assert.StartsWith("error: unknown command 'sfft'; did you mean sft?", command.Error);
        Assert.Equal(2, command.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void ABadNumberNamesTheOptionNotADotNetType()
    {
        var (code, _, error) = CliRun.Separate("sft", "--learning-rate", "abc");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --learning-rate expects a number (got 'abc')", error);
        Assert.DoesNotContain("System.", error);
        Assert.DoesNotContain("Single", error);
        Assert.StartsWith("error: --max-steps expects a whole number (got '1.5')", CliRun.Separate("sft", "--max-steps", "1.5").Error);
    }

    [Fact]
    public void ErrorsAreOneUnwrappedLineInTheUsersTerms()
    {
        string model = dir.Sub("model");
        Directory.CreateDirectory(model);
        File.WriteAllText(dir.Sub("data.jsonl"), "not json at all\n");
        File.WriteAllText(dir.Sub("taken"), "a file");
        string deep = dir.Sub(string.Join("/", Enumerable.Repeat("a-rather-long-folder-name", 6)));
        Directory.CreateDirectory(deep);

        // An --output-dir that is an existing file: reported before the (bad) data is read.
        var output = CliRun.Separate("sft", "--model", model, "--dataset", dir.Sub("data.jsonl"), "--output-dir", dir.Sub("taken"));
        Assert.Equal(1, output.Code);
        Assert.Equal($"error: --output-dir {dir.Sub("taken")} is an existing file; give a folder for the outputs.", output.Error.TrimEnd());

        // A folder given as --dataset (long path: still one line).
        var folder = CliRun.Separate("sft", "--model", model, "--dataset", deep, "--output-dir", dir.Sub("out"));
        Assert.Equal(1, folder.Code);
        Assert.Equal($"error: --dataset {deep} is a folder; give a data file in it (JSONL, JSON or .gz).", folder.Error.TrimEnd());
        Assert.True(folder.Error.TrimEnd().Length > 200);

        // --max-steps 0 is an error, found before the (empty) model folder is read.
        var steps = CliRun.Separate("sft", "--model", model, "--dataset", dir.Sub("data.jsonl"), "--output-dir", dir.Sub("out"), "--max-steps", "0");
        Assert.Equal(1, steps.Code);
        Assert.Contains("--max-steps 0 would not train", steps.Error);
        Assert.Single(steps.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // Training arguments are named as the options were typed.
        var epochs = CliRun.Separate("sft", "--model", model, "--dataset", dir.Sub("data.jsonl"), "--output-dir", dir.Sub("out"), "--num-train-epochs", "0");
        Assert.Contains("--num-train-epochs must be > 0", epochs.Error);
        Assert.DoesNotContain("num_train_epochs", epochs.Error);
    }

    [Fact]
    public void AnInternalErrorSaysSoAndHidesTheTypeName()
    {
        Assert.Equal("internal error: Object reference not set to an instance of an object. (run again with --verbose and report it)",
            CommandRunner.Describe(new NullReferenceException()));
        Assert.Equal("--beta must be positive", CommandRunner.Describe(new ArgumentException("--beta must be positive", "beta")));
        Assert.Equal("a b", CommandRunner.Describe(new IOException("a\nb")));
    }
}
