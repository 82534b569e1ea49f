// Anthropic hh-rlhf dialogue text ("\n\nHuman: …\n\nAssistant: …"): turns, the textbook's single-turn filter and extraction.
namespace Rlhf.Data;

internal enum HhRole
{
    Human,
    Assistant,
}

/// <summary>One turn of an hh-rlhf dialogue.</summary>
internal sealed record HhTurn(HhRole Role, string Text);

/// <summary>
/// Helpers for hh-rlhf text. <see cref="CountHuman"/>, <see cref="IsSingleTurn"/> and <see cref="ExtractConversation"/>
/// reproduce the seed notebook (003) exactly, quirks included: <c>"Human: "</c> inside an answer counts as a turn, and a
/// multi-turn dialogue yields its first question with everything after the first <c>"Assistant: "</c> as the answer.
/// <see cref="SplitAtLastAssistant"/> is the multi-turn alternative (DESIGN §4, TRL's prompt extraction).
/// </summary>
internal static class HhDialogue
{
    public const string HumanMarker = "Human: ";
    public const string AssistantMarker = "Assistant: ";
    public const string LastAssistantMarker = "\n\nAssistant:";

    /// <summary>Non-overlapping occurrences of <c>"Human: "</c> (Python's <c>text.count("Human: ")</c>).</summary>
    public static int CountHuman(string text)
    {
        int count = 0;
        for (int i = text.IndexOf(HumanMarker, StringComparison.Ordinal); i >= 0;
             i = text.IndexOf(HumanMarker, i + HumanMarker.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    /// <summary>The textbook's filter: keep a pair only when neither text contains <c>"Human: "</c> twice or more.</summary>
    public static bool IsSingleTurn(string chosen, string rejected) => CountHuman(chosen) < 2 && CountHuman(rejected) < 2;

    /// <summary>
    /// The textbook's <c>extract_conversation</c>: split on <c>"Assistant: "</c>; fewer than two parts → ("", "");
    /// human = parts[0] without any <c>"Human: "</c>, trimmed; answer = parts[1] trimmed.
    /// </summary>
    public static (string Human, string Answer) ExtractConversation(string text)
    {
        int first = text.IndexOf(AssistantMarker, StringComparison.Ordinal);
        if (first < 0)
            return ("", "");
        int start = first + AssistantMarker.Length;
        int second = text.IndexOf(AssistantMarker, start, StringComparison.Ordinal);
        string human = PyStrip(text[..first].Replace(HumanMarker, "", StringComparison.Ordinal));
        string answer = PyStrip(second < 0 ? text[start..] : text[start..second]);
        return (human, answer);
    }

    /// <summary>Python's <c>str.strip()</c>: .NET whitespace plus U+001C–U+001F, which Python also strips.</summary>
    public static string PyStrip(string text)
    {
        static bool IsPySpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';
        int a = 0, b = text.Length;
        while (a < b && IsPySpace(text[a]))
            a++;
        while (b > a && IsPySpace(text[b - 1]))
            b--;
        return a == 0 && b == text.Length ? text : text[a..b];
    }

    /// <summary>
    /// Splits at the last <c>"\n\nAssistant:"</c>: Prompt is everything up to and including it, Response the rest
    /// untouched (usually with its leading space), so <c>Prompt + Response == text</c>. No such marker → null.
    /// </summary>
    public static (string Prompt, string Response)? SplitAtLastAssistant(string text)
    {
        int i = text.LastIndexOf(LastAssistantMarker, StringComparison.Ordinal);
        if (i < 0)
            return null;
        int end = i + LastAssistantMarker.Length;
        return (text[..end], text[end..]);
    }

    /// <summary>
    /// Multi-turn extraction for templates: the dialogue before the last assistant turn (trimmed, roles kept, e.g.
    /// <c>Human: a\n\nAssistant: b\n\nHuman: c</c>) and the last answer trimmed; ("", "") without an assistant turn.
    /// For a single-turn dialogue this gives <c>Human: q</c>; use <see cref="ExtractConversation"/> for the bare question.
    /// </summary>
    public static (string Dialogue, string Answer) ExtractLastTurn(string text)
    {
        if (SplitAtLastAssistant(text) is not var (prompt, response))
            return ("", "");
        return (prompt[..^LastAssistantMarker.Length].Trim(), response.Trim());
    }

    /// <summary>
    /// The turns of a dialogue. A turn starts at <c>Human:</c> / <c>Assistant:</c> at the start of the text or after a
    /// blank line (<c>"\n\n"</c>); its text is trimmed. Text before the first marker is ignored.
    /// </summary>
    public static IReadOnlyList<HhTurn> ParseTurns(string text)
    {
        var marks = new List<(int Start, int TextStart, HhRole Role)>();
        AddMarks(text, "Human:", HhRole.Human, marks);
        AddMarks(text, "Assistant:", HhRole.Assistant, marks);
        marks.Sort((a, b) => a.Start.CompareTo(b.Start));
        var turns = new List<HhTurn>(marks.Count);
        for (int k = 0; k < marks.Count; k++)
        {
            int end = k + 1 < marks.Count ? marks[k + 1].Start : text.Length;
            turns.Add(new HhTurn(marks[k].Role, text[marks[k].TextStart..end].Trim()));
        }
        return turns;
    }

    /// <summary>Formats turns back to hh-rlhf text: <c>"\n\nHuman: …\n\nAssistant: …"</c>.</summary>
    public static string Format(IEnumerable<HhTurn> turns) =>
        string.Concat(turns.Select(t => $"\n\n{(t.Role == HhRole.Human ? "Human" : "Assistant")}: {t.Text}"));

    private static void AddMarks(string text, string marker, HhRole role, List<(int, int, HhRole)> marks)
    {
        int lead = 0;
        while (lead < text.Length && char.IsWhiteSpace(text[lead]))
            lead++;
        if (string.CompareOrdinal(text, lead, marker, 0, marker.Length) == 0)
            marks.Add((0, lead + marker.Length, role));
        string sep = "\n\n" + marker;
        for (int i = text.IndexOf(sep, lead, StringComparison.Ordinal); i >= 0; i = text.IndexOf(sep, i + sep.Length, StringComparison.Ordinal))
            marks.Add((i, i + sep.Length, role));
    }
}
