// Guidelines markdown → HTML for the labeling page, or Spectre markup for the terminal labeler: headings, lists,
// paragraphs, **bold**, *italic*, `code`; all text escaped.
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Rlhf.Cli.Labeling;

internal static partial class SimpleMarkdown
{
    /// <summary>How one output format writes the blocks and inline marks (text is already escaped for it).</summary>
    private sealed record Format(
        Func<string, string> Escape, Func<int, string, string> Heading, string ListOpen, Func<string, string> ListItem, string ListClose,
        Func<string, string> Paragraph, string Code, string Bold, string Italic);

    private static readonly Format HtmlFormat = new(
        WebUtility.HtmlEncode,
        (level, text) => $"<h{Math.Min(level + 1, 6)}>{text}</h{Math.Min(level + 1, 6)}>\n", // # → h2: the page keeps h1 for itself.
        "<ul>\n", item => $"<li>{item}</li>\n", "</ul>\n",
        text => $"<p>{text}</p>\n",
        "<code>$1</code>", "<strong>$1</strong>", "<em>$1</em>");

    private static readonly Format MarkupFormat = new(
        Spectre.Console.Markup.Escape,
        (level, text) => $"[bold{(level == 1 ? " underline" : "")}]{text}[/]\n",
        "", item => $"  • {item}\n", "",
        text => $"{text}\n",
        "[aqua]$1[/]", "[bold]$1[/]", "[italic]$1[/]");

    /// <summary>
    /// Renders a small subset of markdown. Every character of the input is HTML-encoded before any tag is added, so
    /// the output holds only the tags this method writes (no links, images or raw HTML: no script injection).
    /// </summary>
    public static string ToHtml(string markdown) => Render(markdown, HtmlFormat);

    /// <summary>The same subset as Spectre.Console markup for the terminal labeler (the input's own brackets escaped).</summary>
    public static string ToMarkup(string markdown) => Render(markdown, MarkupFormat).TrimEnd('\n');

    private static string Render(string markdown, Format format)
    {
        var output = new StringBuilder();
        var paragraph = new List<string>();
        bool inList = false;

        void FlushParagraph()
        {
            if (paragraph.Count > 0) output.Append(format.Paragraph(string.Join(" ", paragraph)));
            paragraph.Clear();
        }
        void CloseList()
        {
            if (inList) output.Append(format.ListClose);
            inList = false;
        }

        foreach (string rawLine in markdown.Replace("\r\n", "\n").Split('\n'))
        {
            string line = rawLine.Trim();
            if (line.Length == 0)
            {
                FlushParagraph();
                CloseList();
                continue;
            }
            var heading = Heading().Match(line);
            if (heading.Success)
            {
                FlushParagraph();
                CloseList();
                output.Append(format.Heading(heading.Groups[1].Length, Inline(heading.Groups[2].Value, format)));
                continue;
            }
            var item = ListItem().Match(line);
            if (item.Success)
            {
                FlushParagraph();
                if (!inList) output.Append(format.ListOpen);
                inList = true;
                output.Append(format.ListItem(Inline(item.Groups[1].Value, format)));
                continue;
            }
            if (inList) CloseList();
            paragraph.Add(Inline(line, format));
        }
        FlushParagraph();
        CloseList();
        return output.ToString();
    }

    private static string Inline(string text, Format format)
    {
        string encoded = format.Escape(text);
        encoded = Code().Replace(encoded, format.Code);
        encoded = Bold().Replace(encoded, format.Bold);
        encoded = Italic().Replace(encoded, format.Italic);
        return encoded;
    }

    [GeneratedRegex(@"^(#{1,6})\s+(.*)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^[-*+]\s+(.*)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex Code();

    [GeneratedRegex(@"\*\*(.+?)\*\*")]
    private static partial Regex Bold();

    [GeneratedRegex(@"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")]
    private static partial Regex Italic();
}
