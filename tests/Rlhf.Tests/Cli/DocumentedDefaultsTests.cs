// Every default `rlhf … --help` shows is one the parser accepts: each option's default value passed back explicitly
// parses without errors, and every template named as a default in a description is a valid template.
using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Rlhf.Cli;
using Rlhf.Cli.Commands;
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Cli;

public sealed partial class DocumentedDefaultsTests
{
    private static IEnumerable<(string Path, Command Command)> Commands(Command command, string path)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands)
            foreach (var nested in Commands(sub, path + " " + sub.Name))
                yield return nested;
    }

    private static string? Format(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        string s => s,
        _ => null,
    };

    [Fact]
    public void EveryOptionDefault_ParsesWhenGivenExplicitly()
    {
        var root = RlhfApp.Build();
        int checkedDefaults = 0;
        foreach (var (path, command) in Commands(root, "rlhf"))
        {
            foreach (var option in command.Options.Where(o => o.HasDefaultValue))
            {
                var parsed = root.Parse(path.Split(' ').Skip(1).ToArray());
                object? value = parsed.GetResult(option)?.GetValueOrDefault<object?>();
                if (Format(value) is not { } text || value is bool)
                    continue;
                var again = root.Parse([.. path.Split(' ').Skip(1), option.Name, text]);
                Assert.True(again.Errors.Count == 0 || again.Errors.All(e => e.Message.Contains("required", StringComparison.OrdinalIgnoreCase)),
                    $"`{path} {option.Name} {text}` (its documented default): {string.Join("; ", again.Errors.Select(e => e.Message))}");
                checkedDefaults++;
            }
        }
        Assert.True(checkedDefaults > 50, $"only {checkedDefaults} defaults found");
    }

    [GeneratedRegex("default \"((?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex QuotedDefault();

    [Fact]
    public void EveryTemplateNamedAsADefault_IsAValidTemplate()
    {
        int templates = 0;
        foreach (var (path, command) in Commands(RlhfApp.Build(), "rlhf"))
        {
            foreach (var option in command.Options.Where(o => o.Name == "--template"))
            {
                var match = QuotedDefault().Match(option.Description ?? "");
                Assert.True(match.Success, $"{path} --template documents no default: {option.Description}");
                var template = PromptTemplate.Parse(DataOptions.Unescape(match.Groups[1].Value));
                Assert.Equal(PromptTemplate.DefaultText, template.Text);
                templates++;
            }
        }
        Assert.True(templates >= 4, $"only {templates} --template options found");
    }

    [Fact]
    public void PpoHelp_ShowsTheTemplateItsParserAccepts()
    {
        var ppo = RlhfApp.Build().Subcommands.Single(c => c.Name == "ppo");
        var description = ppo.Options.Single(o => o.Name == "--template").Description!;
        Assert.Contains("### Question: {instruction}\\n### Answer: {response}{eos}", description);
    }
}
