// Guidelines markdown → HTML for the labeling page: headings, lists, paragraphs, **bold**, *italic*, `code`; all text escaped.
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Rlhf.Cli.Labeling;

public static partial class SimpleMarkdown
{
    /// <summary>
    /// Renders a small subset of markdown. Every character of the input is HTML-encoded before any tag is added, so
    /// the output holds only the tags this method writes (no links, images or raw HTML: no script injection).
    /// </summary>
    public static string ToHtml(string markdown)
    {
        var html = new StringBuilder();
        var paragraph = new List<string>();
        bool inList = false;

        void FlushParagraph()
        {
            if (paragraph.Count > 0) html.Append("<p>").Append(string.Join(" ", paragraph)).Append("</p>\n");
            paragraph.Clear();
        }
        void CloseList()
        {
            if (inList) html.Append("</ul>\n");
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
                int level = Math.Min(heading.Groups[1].Length + 1, 6); // # → h2: the page keeps h1 for itself.
                html.Append($"<h{level}>").Append(Inline(heading.Groups[2].Value)).Append($"</h{level}>\n");
                continue;
            }
            var item = ListItem().Match(line);
            if (item.Success)
            {
                FlushParagraph();
                if (!inList) html.Append("<ul>\n");
                inList = true;
                html.Append("<li>").Append(Inline(item.Groups[1].Value)).Append("</li>\n");
                continue;
            }
            if (inList) CloseList();
            paragraph.Add(Inline(line));
        }
        FlushParagraph();
        CloseList();
        return html.ToString();
    }

    private static string Inline(string text)
    {
        string encoded = WebUtility.HtmlEncode(text);
        encoded = Code().Replace(encoded, "<code>$1</code>");
        encoded = Bold().Replace(encoded, "<strong>$1</strong>");
        encoded = Italic().Replace(encoded, "<em>$1</em>");
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
