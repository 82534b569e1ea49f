// The one prompt story (DESIGN §4): how every command turns a user's prompt into the text the model sees — the model's
// chat template when its tokenizer has one, else the `### Question/Answer` template; `--template` overrides, `--raw`
// sends the text as it is. Also the one rule for backslash escapes in prompt and template options.
using System.Text;
using Rlhf.Text;

namespace Rlhf.Data;

internal sealed class PromptStyle
{
    /// <summary>Where the rendering comes from.</summary>
    public enum Source { ChatTemplate, Template, Raw }

    private readonly Func<string, string>? chat;

    private PromptStyle(Source source, PromptTemplate template, Func<string, string>? chat)
    {
        Kind = source;
        Template = template;
        this.chat = chat;
    }

    public Source Kind { get; }

    /// <summary>The template (the response part too: scoring and training data use it); <see cref="PromptTemplate.Raw"/> with --raw.</summary>
    public PromptTemplate Template { get; }

    /// <summary>The text the model sees for <paramref name="instruction"/>.</summary>
    public string Render(string instruction) => chat?.Invoke(instruction) ?? Template.RenderPrompt(instruction);

    public static PromptStyle Default { get; } = new(Source.Template, PromptTemplate.Default, null);

    public static PromptStyle Raw { get; } = new(Source.Raw, PromptTemplate.Raw, null);

    /// <summary>
    /// The style of a command's --template / --raw options for the model in <paramref name="modelFolder"/>
    /// (null: no model at hand, e.g. checking options early). <paramref name="templateText"/> is as typed: its
    /// backslash escapes are read by <see cref="Unescape"/>.
    /// </summary>
    public static PromptStyle Resolve(string? templateText, bool raw, string? modelFolder = null)
    {
        if (raw && templateText is not null) throw new ArgumentException("Give at most one of --template and --raw.");
        if (raw) return Raw;
        if (templateText is not null)
        {
            // A prompt-only template ("Q: {instruction}\nA: ") takes the response at its end.
            string text = Unescape(templateText);
            return new(Source.Template, PromptTemplate.Parse(text.Contains("{response}", StringComparison.Ordinal) ? text : text + "{response}"), null);
        }
        return modelFolder is not null && ChatTemplateOf(modelFolder) is { } chat ? new(Source.ChatTemplate, PromptTemplate.Default, chat) : Default;
    }

    /// <summary>
    /// The user turn rendered with the folder's chat template (tokenizer_config.json's chat_template or
    /// chat_template.jinja) and the generation prompt — transformers'
    /// <c>apply_chat_template([{"role": "user", ...}], add_generation_prompt=True)</c> — or null when the folder has none.
    /// </summary>
    public static Func<string, string>? ChatTemplateOf(string modelFolder)
    {
        ArgumentNullException.ThrowIfNull(modelFolder);
        if (!Directory.Exists(modelFolder)) return null;
        var template = ChatTemplate.TryLoad(modelFolder);
        return template is null ? null : user => template.Render([ChatMessage.User(user)], addGenerationPrompt: true);
    }

    /// <summary>
    /// The escape rule of every prompt, response, prefix and template option and of plain-text prompt files:
    /// <c>\n</c> is a newline, <c>\t</c> a tab, <c>\\</c> one backslash; any other backslash stays as it is.
    /// </summary>
    public static string Unescape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Contains('\\', StringComparison.Ordinal)) return text;
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char next = i + 1 < text.Length ? text[i + 1] : '\0';
            if (text[i] == '\\' && next is 'n' or 't' or '\\')
            {
                result.Append(next switch { 'n' => '\n', 't' => '\t', _ => '\\' });
                i++;
            }
            else result.Append(text[i]);
        }
        return result.ToString();
    }

    /// <summary>What --help says about escapes (one wording everywhere).</summary>
    public const string EscapeHelp = "\\n is a newline, \\t a tab, \\\\ a backslash";
}
