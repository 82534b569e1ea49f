// The prompt options every command that takes prompts shares (generate, compare, score, label, ppo): --template and
// --raw with one help text, resolved through PromptStyle, and one check of prompts against the model's context.
using System.CommandLine;
using Rlhf.Data;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal sealed class PromptOptions
{
    /// <summary>How a prompt becomes model input, for --help (the same words in every command).</summary>
    public const string Story =
        "Prompts are rendered with the model's chat template when its tokenizer has one, else as \"### Question: {instruction}\\n### Answer: \"; "
        + "--template overrides, --raw sends them as they are. In prompt, response and template options and in plain-text prompt files "
        + PromptStyle.EscapeHelp + ".";

    public Option<string?> Template { get; } = new("--template")
    {
        Description = "Prompt template with {instruction} (and optionally {response}, {eos}) (default \"### Question: {instruction}\\n### Answer: \", "
            + "or the model's chat template when it has one). " + PromptStyle.EscapeHelp + ".",
    };

    public Option<bool> Raw { get; } = new("--raw") { Description = "Send prompts to the model as they are (no template)." };

    public PromptOptions(params string[] rawAliases)
    {
        foreach (var alias in rawAliases) Raw.Aliases.Add(alias);
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Template);
        command.Options.Add(Raw);
    }

    /// <summary>The style for the model in <paramref name="modelFolder"/> (null checks the options before anything is loaded).</summary>
    public PromptStyle Resolve(CommandSettings settings, string? modelFolder)
    {
        var style = PromptStyle.Resolve(settings.Get(Template), settings.Get(Raw), modelFolder);
        settings.Record("template", style.Kind == PromptStyle.Source.Template ? style.Template.Text : null);
        return style;
    }

    /// <summary>
    /// Prompts that leave no room for <paramref name="maxNewTokens"/> in the model's context: an error naming the first
    /// and the way out, or with <paramref name="truncateLeft"/> a counted warning on standard error.
    /// </summary>
    public static void CheckLengths(IReadOnlyList<int[]> prompts, int contextLength, int maxNewTokens, bool truncateLeft, string where)
    {
        int room = contextLength - maxNewTokens;
        if (room <= 0)
            throw new ArgumentException($"--max-new-tokens {maxNewTokens} leaves no room for a prompt in {where}'s context of {contextLength} tokens.");
        var tooLong = Enumerable.Range(0, prompts.Count).Where(i => prompts[i].Length > room).ToArray();
        if (tooLong.Length == 0) return;
        int first = tooLong[0];
        if (!truncateLeft)
            throw new ArgumentException($"prompt {first + 1} is {prompts[first].Length} tokens, but {where}'s context of {contextLength} tokens leaves {room} "
                + $"after --max-new-tokens {maxNewTokens}{(tooLong.Length > 1 ? $" ({tooLong.Length} prompts are too long)" : "")}; "
                + "shorten it, lower --max-new-tokens or pass --truncate-left.");
        Warn($"{tooLong.Length} of {prompts.Count} prompts were longer than {room} tokens and were cut from the left (--truncate-left).");
    }

    /// <summary>A warning line on standard error ("warning: …").</summary>
    public static void Warn(string message) => CliConsole.ForError().MarkupLine($"[yellow]warning:[/] {Markup.Escape(message)}");

    public static Option<bool> TruncateLeftOption() => new("--truncate-left")
    {
        Description = "Cut prompts longer than the context allows from the left (counted in a warning) instead of stopping with an error.",
    };
}
