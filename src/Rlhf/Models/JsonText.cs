// Checks that every string in a parsed JSON document decodes to text, and shortens text quoted in error messages.
using System.Text.Json;

namespace Rlhf.Models;

internal static partial class JsonText
{
    /// <summary>Longest piece of file content quoted in an error message.</summary>
    public const int MaxQuoted = 80;

    /// <summary>
    /// The JSON path (<c>$.model.vocab["ab…"]</c>) of the first string or property name that cannot be read as UTF-16
    /// (invalid UTF-8 bytes, or a lone <c>\uD800</c>-style surrogate escape, which System.Text.Json only reports when the
    /// string is read), or null when every string decodes.
    /// </summary>
    public static string? FindUndecodable(JsonElement element, string path = "$")
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(element) ? null : path;
            case JsonValueKind.Array:
                int index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUndecodable(item, $"{path}[{index}]") is { } found) return found;
                    index++;
                }
                return null;
            case JsonValueKind.Object:
                int position = 0;
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return $"{path} (the name of property {position + 1})";
                    }
                    if (FindUndecodable(property.Value, $"{path}.{Clip(name, 40)}") is { } found) return found;
                    position++;
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>The message for <see cref="FindUndecodable"/>'s result.</summary>
    public static string UndecodableMessage(string where) =>
        $"the JSON string at {where} is not valid text (invalid UTF-8 or a lone \\u surrogate escape)";

    /// <summary><paramref name="text"/> cut to <paramref name="max"/> characters, with its full length noted when cut.</summary>
    public static string Clip(string text, int max = MaxQuoted) =>
        (text.Length <= max ? text : $"{text[..max]}… ({text.Length:N0} characters)").ReplaceLineEndings(" ");

    /// <summary>
    /// A JsonException's message made fit for one line: System.Text.Json's "Path: … | LineNumber: …" tail dropped,
    /// the file text it quotes (which may span lines and be huge) cut short, and the line and column appended.
    /// </summary>
    public static string Describe(JsonException error)
    {
        string message = ShortenQuotes(error.Message);
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0) message = message[..cut];
        message = Clip(message.TrimEnd(' ', '.', '|'), 200);
        return error.LineNumber is long line && error.BytePositionInLine is long column
            ? $"{message} at line {line + 1}, column {column + 1}"
            : message;
    }

    /// <summary>Text in single quotes (what System.Text.Json quotes from the file) cut to 24 characters, on one line.</summary>
    public static string ShortenQuotes(string message) =>
        QuotedText().Replace(message.ReplaceLineEndings(" "), match => $"'{match.Groups[1].Value}…'");

    [System.Text.RegularExpressions.GeneratedRegex("'([^']{24})[^']+'")]
    private static partial System.Text.RegularExpressions.Regex QuotedText();

    private static bool Decodes(JsonElement element)
    {
        try
        {
            element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
