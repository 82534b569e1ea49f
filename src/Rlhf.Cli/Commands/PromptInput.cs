// Reads prompts given on the command line or in a file (plain lines, or JSONL rows with a "prompt" field); the option
// and plain lines follow PromptStyle.Unescape (JSON strings carry their own escapes).
using System.Text.Json;
using Rlhf.Data;

namespace Rlhf.Cli.Commands;

internal static class PromptInput
{
    public static IReadOnlyList<string> Read(string? prompt, string? file)
    {
        if ((prompt is null) == (file is null)) throw new ArgumentException("Give exactly one of --prompt and --prompts.");
        if (prompt is not null) return [PromptStyle.Unescape(prompt)];
        InputFiles.RequireFile(file!, "--prompts");
        var prompts = new List<string>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(file!))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (!line.TrimStart().StartsWith('{'))
            {
                prompts.Add(PromptStyle.Unescape(line));
                continue;
            }
            try
            {
                using var row = JsonDocument.Parse(line);
                if (!row.RootElement.TryGetProperty("prompt", out var value) || value.ValueKind != JsonValueKind.String)
                    throw new FormatException($"{file}:{lineNumber}: field 'prompt' is missing or not a string.");
                prompts.Add(value.GetString()!);
            }
            catch (JsonException error)
            {
                throw new FormatException($"{file}:{lineNumber}: invalid JSON ({error.Message}).");
            }
        }
        if (prompts.Count == 0) throw new ArgumentException($"{file} holds no prompts.");
        return prompts;
    }
}
