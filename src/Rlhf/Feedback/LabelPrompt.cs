// The prompts to label: read from JSONL ({"prompt"} or {"instruction"}) or plain text, rendered with the template.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Rlhf.Feedback;

/// <summary>A prompt to judge: a stable id (from its text), the text as given, and the text the model sees.</summary>
internal sealed record LabelPrompt(string Id, string Text, string Rendered)
{
    /// <summary>The seeds' instruction template (DESIGN §4), without the answer and EOS.</summary>
    public const string DefaultTemplate = "### Question: {instruction}\n### Answer: ";

    /// <summary>The id of a prompt: the first 16 hex digits of the SHA-256 of its UTF-8 text, so it survives reordering.</summary>
    public static string IdOf(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    public static LabelPrompt Create(string text, string? template = DefaultTemplate) =>
        new(IdOf(text), text, template is null ? text : template.Replace("{instruction}", text, StringComparison.Ordinal));

    /// <summary>Reads prompts (see the other overload) rendered with <paramref name="template"/>; null = the text unchanged.</summary>
    public static IReadOnlyList<LabelPrompt> Load(string path, string? template = DefaultTemplate) =>
        Load(path, text => Create(text, template).Rendered);

    /// <summary>
    /// Reads prompts: JSONL when the file ends in .jsonl/.json or its first non-blank line starts with '{' (each line an
    /// object with a string "prompt" or "instruction"), else plain text with one prompt per non-blank line, read with
    /// <see cref="Data.PromptStyle.Unescape"/> as every command reads them. Duplicates are kept once;
    /// <paramref name="render"/> gives the text the model sees.
    /// </summary>
    public static IReadOnlyList<LabelPrompt> Load(string path, Func<string, string> render)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The prompts file '{path}' does not exist.", path);
        var lines = File.ReadAllLines(path, Encoding.UTF8);
        string extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        bool json = extension is ".jsonl" or ".json" || lines.FirstOrDefault(l => !string.IsNullOrWhiteSpace(l))?.TrimStart().StartsWith('{') == true;
        var texts = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            texts.Add(json ? ParseJsonLine(lines[i], path, i + 1) : Data.PromptStyle.Unescape(lines[i].TrimEnd()));
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var prompts = texts.Where(seen.Add).Select(t => new LabelPrompt(IdOf(t), t, render(t))).ToList();
        if (prompts.Count == 0) throw new InvalidDataException($"The prompts file '{path}' holds no prompts.");
        return prompts;
    }

    private static string ParseJsonLine(string line, string path, int lineNumber)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
                foreach (string key in (string[])["prompt", "instruction"])
                    if (document.RootElement.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
                        return text;
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"{path}:{lineNumber}: not valid JSON ({error.Message}).", error);
        }
        throw new InvalidDataException($"{path}:{lineNumber}: expected an object with a non-empty string \"prompt\" or \"instruction\".");
    }
}
