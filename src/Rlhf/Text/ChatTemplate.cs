// A model folder's chat template, rendered as transformers' tokenizer.apply_chat_template(messages, tokenize=False,
// add_generation_prompt=...): the template from chat_template.jinja or tokenizer_config.json's "chat_template"
// (a string, or a list of {"name", "template"} where "default" is used), with messages, add_generation_prompt,
// tools=None, documents=None and the special tokens (bos_token, eos_token, unk_token, pad_token) as variables.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Text.Templates;

namespace Rlhf.Text;

internal sealed class ChatTemplate
{
    public const string JinjaFileName = "chat_template.jinja";
    public const string ConfigFileName = "tokenizer_config.json";

    private readonly JinjaTemplate template;
    private readonly Dictionary<string, string> specialTokens;

    /// <summary>Where the template came from (file, and the template's name when the config holds several).</summary>
    public string Name => template.Name;

    /// <summary>The template's Jinja source.</summary>
    public string Source => template.Source;

    /// <summary>The special tokens the template sees as variables (bos_token, eos_token, unk_token, pad_token).</summary>
    public IReadOnlyDictionary<string, string> SpecialTokens => specialTokens;

    /// <summary>Parses a template; unsupported constructs fail here with the template's name and line.</summary>
    public ChatTemplate(string source, string name, IReadOnlyDictionary<string, string>? specialTokens = null)
    {
        template = JinjaTemplate.Parse(source, name);
        this.specialTokens = specialTokens is null ? [] : new Dictionary<string, string>(specialTokens);
    }

    /// <summary>The folder's chat template, or null when it has none. <paramref name="templateName"/> picks one of
    /// several named templates (default: "default"). A malformed file is a ModelFormatException naming it.</summary>
    public static ChatTemplate? TryLoad(string folder, string? templateName = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The model folder '{folder}' does not exist.");
        string configPath = Path.Combine(folder, ConfigFileName), jinjaPath = Path.Combine(folder, JinjaFileName);
        string mapPath = Path.Combine(folder, "special_tokens_map.json");
        var names = new Dictionary<string, string?>();
        string? source = null, name = null;
        if (File.Exists(mapPath))
        {
            using var map = ReadJson(mapPath);
            BpeTokenizer.ReadSpecialTokenNames(mapPath, map, names, overwrite: false);
        }
        if (File.Exists(configPath))
        {
            using var config = ReadJson(configPath);
            BpeTokenizer.ReadSpecialTokenNames(configPath, config, names, overwrite: true);
            // transformers reads chat_template.jinja in preference to the config's default template.
            bool fromFile = File.Exists(jinjaPath) && templateName is null or "default";
            if (!fromFile && config.RootElement.TryGetProperty("chat_template", out var element))
                (source, name) = Select(configPath, element, templateName);
        }
        if (File.Exists(jinjaPath) && templateName is null or "default")
        {
            source = File.ReadAllText(jinjaPath);
            name = jinjaPath;
        }
        if (source is null)
        {
            if (templateName is not null) throw new ModelFormatException(configPath, $"there is no chat template named '{templateName}'");
            return null;
        }
        var tokens = names.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!);
        return new ChatTemplate(source, name!, tokens);
    }

    private static (string? Source, string? Name) Select(string path, JsonElement element, string? templateName)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
                return (null, null);
            case JsonValueKind.String when templateName is null or "default":
                return (element.GetString(), path);
            case JsonValueKind.String:
                throw new ModelFormatException(path, $"chat_template is a single template; there is none named '{templateName}'");
            case JsonValueKind.Array:
                var named = new Dictionary<string, string>();
                foreach (var item in element.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
                        || !item.TryGetProperty("template", out var t) || t.ValueKind != JsonValueKind.String)
                        throw new ModelFormatException(path, "chat_template as a list must hold {\"name\": ..., \"template\": ...} objects");
                    named[n.GetString()!] = t.GetString()!;
                }
                string wanted = templateName ?? "default";
                if (named.TryGetValue(wanted, out var chosen)) return (chosen, $"{path} ({wanted})");
                throw new ModelFormatException(path, $"chat_template has no template named '{wanted}' (it has {string.Join(", ", named.Keys.Select(k => $"'{k}'"))}); choose one by name");
            default:
                throw new ModelFormatException(path, "chat_template must be a string or a list of named templates");
        }
    }

    private static JsonDocument ReadJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>The conversation as the model was trained to see it. With <paramref name="addGenerationPrompt"/> the
    /// text ends with the opening of an assistant turn. <paramref name="now"/> is the clock for strftime_now
    /// (Llama 3.x dates its system header; default: the local time, as transformers). A template that raises or
    /// fails is a TemplateException naming the template and line.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, DateTime? now = null)
    {
        var list = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList();
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = list,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        foreach (var (key, value) in specialTokens) variables[key] = value;
        return template.Render(variables, now);
    }
}
