// Prompt templates as data: a string with {instruction}, {response} and {eos} placeholders, split at {response}.
using System.Text;

namespace Rlhf.Data;

/// <summary>A template string is malformed (unknown placeholder, unbalanced brace, missing or repeated placeholder).</summary>
internal sealed class TemplateFormatException(string message) : FormatException(message);

/// <summary>
/// A prompt template such as the seeds' <c>### Question: {instruction}\n### Answer: {response}{eos}</c>.
/// Placeholders: <c>{instruction}</c> (once, before the response), <c>{response}</c> (exactly once), <c>{eos}</c>
/// (alias <c>{eos_token}</c> as in the textbook's code; at most once, after the response). <c>{{</c> and <c>}}</c> are literal braces.
/// The prompt part (<see cref="RenderPrompt"/>) is everything before <c>{response}</c>; the response part is the rest.
/// </summary>
internal sealed class PromptTemplate
{
    private enum Kind { Literal, Instruction, Response, Eos }

    private readonly (Kind Kind, string Text)[] _prompt;
    private readonly (Kind Kind, string Text)[] _response;

    /// <summary>The seeds' template.</summary>
    public const string DefaultText = "### Question: {instruction}\n### Answer: {response}{eos}";

    public static PromptTemplate Default { get; } = Parse(DefaultText);

    /// <summary>No decoration and no EOS: for data whose prompts and responses are already rendered.</summary>
    public static PromptTemplate Raw { get; } = Parse("{instruction}{response}");

    /// <summary>The template string as given.</summary>
    public string Text { get; }

    /// <summary>True when the template appends the EOS text.</summary>
    public bool HasEos { get; }

    private PromptTemplate(string text, (Kind, string)[] prompt, (Kind, string)[] response)
    {
        Text = text;
        _prompt = prompt;
        _response = response;
        HasEos = response.Any(p => p.Item1 == Kind.Eos);
    }

    /// <summary>Parses a template; throws <see cref="TemplateFormatException"/> saying what to change.</summary>
    public static PromptTemplate Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = new List<(Kind, string)>();
        var literal = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '{' && i + 1 < text.Length && text[i + 1] == '{') { literal.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < text.Length && text[i + 1] == '}') { literal.Append('}'); i++; continue; }
            if (c == '}')
                throw new TemplateFormatException($"template has an unmatched '}}' at position {i}; write '}}}}' for a literal brace. Template: {Quote(text)}");
            if (c != '{') { literal.Append(c); continue; }
            int close = text.IndexOf('}', i + 1);
            if (close < 0)
                throw new TemplateFormatException($"template has an unclosed '{{' at position {i}; write '{{{{' for a literal brace. Template: {Quote(text)}");
            string name = text[(i + 1)..close];
            Kind kind = name switch
            {
                "instruction" => Kind.Instruction,
                "response" => Kind.Response,
                "eos" or "eos_token" => Kind.Eos,
                _ => throw new TemplateFormatException(
                    $"template has an unknown placeholder '{{{name}}}'; allowed: {{instruction}}, {{response}}, {{eos}} (or {{eos_token}}); write '{{{{' for a literal brace. Template: {Quote(text)}"),
            };
            if (literal.Length > 0) { parts.Add((Kind.Literal, literal.ToString())); literal.Clear(); }
            parts.Add((kind, name));
            i = close;
        }
        if (literal.Length > 0)
            parts.Add((Kind.Literal, literal.ToString()));

        int Count(Kind k) => parts.Count(p => p.Item1 == k);
        int IndexOf(Kind k) => parts.FindIndex(p => p.Item1 == k);
        if (Count(Kind.Response) != 1)
            throw new TemplateFormatException($"template must contain {{response}} exactly once (found {Count(Kind.Response)}). Template: {Quote(text)}");
        if (Count(Kind.Instruction) > 1)
            throw new TemplateFormatException($"template must contain {{instruction}} at most once (found {Count(Kind.Instruction)}). Template: {Quote(text)}");
        if (Count(Kind.Eos) > 1)
            throw new TemplateFormatException($"template must contain {{eos}} at most once (found {Count(Kind.Eos)}). Template: {Quote(text)}");
        int r = IndexOf(Kind.Response);
        if (IndexOf(Kind.Instruction) > r)
            throw new TemplateFormatException($"{{instruction}} must come before {{response}}: the prompt is the text before the response. Template: {Quote(text)}");
        if (IndexOf(Kind.Eos) is int e && e >= 0 && e < r)
            throw new TemplateFormatException($"{{eos}} must come after {{response}}. Template: {Quote(text)}");
        return new PromptTemplate(text, [.. parts.Take(r)], [.. parts.Skip(r)]);
    }

    /// <summary>The prompt: the template up to {response} with the instruction filled in.</summary>
    public string RenderPrompt(string instruction) => Render(_prompt, instruction, "", "");

    /// <summary>The response part: {response} and whatever follows it, with the EOS text filled in.</summary>
    public string RenderResponse(string response, string eos) => Render(_response, "", response, eos);

    /// <summary>The whole text: <c>RenderPrompt(instruction) + RenderResponse(response, eos)</c>.</summary>
    public string Render(string instruction, string response, string eos) => RenderPrompt(instruction) + RenderResponse(response, eos);

    public override string ToString() => Text;

    private static string Render((Kind Kind, string Text)[] parts, string instruction, string response, string eos)
    {
        var sb = new StringBuilder();
        foreach (var (kind, text) in parts)
            sb.Append(kind switch
            {
                Kind.Literal => text,
                Kind.Instruction => instruction,
                Kind.Response => response,
                _ => eos,
            });
        return sb.ToString();
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
