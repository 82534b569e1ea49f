// Splits a Jinja template into tokens with the environment transformers renders chat templates in:
// trim_blocks and lstrip_blocks on, keep_trailing_newline off, `-` / `+` whitespace control on every tag
// (jinja2's lexer rules; see transformers' utils/chat_template_utils.py `_compile_jinja_template`).
using System.Globalization;
using System.Text;

namespace Rlhf.Text.Templates;

internal sealed class TemplateLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}"];

    private readonly string source;
    private readonly int[] lineStarts;
    private readonly List<TemplateToken> tokens = [];
    private int pos;

    private TemplateLexer(string source)
    {
        // keep_trailing_newline=False: one trailing newline of the source is dropped.
        if (source.EndsWith("\r\n", StringComparison.Ordinal)) source = source[..^2];
        else if (source.EndsWith('\n')) source = source[..^1];
        this.source = source;
        var starts = new List<int> { 0 };
        for (int i = 0; i < source.Length; i++) if (source[i] == '\n') starts.Add(i + 1);
        lineStarts = [.. starts];
    }

    public static List<TemplateToken> Tokenize(string source) => new TemplateLexer(source).Run();

    private int LineAt(int index)
    {
        int found = Array.BinarySearch(lineStarts, index);
        return (found >= 0 ? found : ~found - 1) + 1;
    }

    private TemplateError Error(int index, string message) => new(LineAt(index), message);

    private List<TemplateToken> Run()
    {
        bool stripLeading = false, trimNewline = false, lineStarting = true;
        while (pos <= source.Length)
        {
            int open = FindTagOpen(pos);
            int textEnd = open < 0 ? source.Length : open;
            int textStart = pos;
            string text = source[textStart..textEnd];
            if (stripLeading) text = text.TrimStart();
            else if (trimNewline && text.StartsWith('\n')) text = text[1..];
            else if (trimNewline && text.StartsWith("\r\n", StringComparison.Ordinal)) text = text[2..];
            if (open < 0)
            {
                Emit(TokenKind.Text, text, textStart);
                break;
            }
            char kind = source[open + 1];
            int inner = open + 2;
            char modifier = inner < source.Length ? source[inner] : '\0';
            if (modifier == '-') text = text.TrimEnd();
            else if (kind != '{' && modifier != '+') text = LstripBlock(text, lineStarting);
            Emit(TokenKind.Text, text, textStart);
            if (modifier is '-' or '+') inner++;

            // `close` is the index just after the closing delimiter; a `-` before it strips what follows.
            (int close, char closeModifier) = kind == '#' ? SkipComment(open, inner) : ReadTag(kind, open, inner);
            stripLeading = closeModifier == '-';
            trimNewline = closeModifier == '\0' && kind != '{';
            pos = close;
            lineStarting = LineStartsAfter(close, stripLeading, trimNewline);
        }
        tokens.Add(new TemplateToken(TokenKind.EndOfInput, "", LineAt(source.Length)));
        return tokens;
    }

    /// <summary>Whether the text after a tag begins a line once the tag's own stripping is applied (jinja2's line_starting).</summary>
    private bool LineStartsAfter(int close, bool strippingWhitespace, bool trimmingNewline)
    {
        if (strippingWhitespace)
        {
            int i = close;
            while (i < source.Length && char.IsWhiteSpace(source[i])) i++;
            return i > close && source[i - 1] == '\n';
        }
        if (trimmingNewline) return source.AsSpan(close).StartsWith("\n") || source.AsSpan(close).StartsWith("\r\n");
        return false;
    }

    /// <summary>lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag are removed.</summary>
    private static string LstripBlock(string text, bool startsLine)
    {
        int lastNewline = text.LastIndexOf('\n');
        if (lastNewline < 0 && !startsLine) return text;
        int from = lastNewline + 1;
        for (int i = from; i < text.Length; i++) if (text[i] != ' ' && text[i] != '\t') return text;
        return text[..from];
    }

    private int FindTagOpen(int start)
    {
        for (int i = start; i + 1 < source.Length; i++)
            if (source[i] == '{' && source[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private void Emit(TokenKind kind, string value, int index)
    {
        if (kind == TokenKind.Text && value.Length == 0) return;
        tokens.Add(new TemplateToken(kind, value, LineAt(index)));
    }

    private (int Close, char Modifier) SkipComment(int open, int inner)
    {
        int end = source.IndexOf("#}", inner, StringComparison.Ordinal);
        if (end < 0) throw Error(open, "a comment opened with '{#' is never closed with '#}'.");
        char modifier = end > inner && source[end - 1] is '-' or '+' ? source[end - 1] : '\0';
        return (end + 2, modifier);
    }

    private (int Close, char Modifier) ReadTag(char kind, int open, int inner)
    {
        Emit(kind == '{' ? TokenKind.VariableBegin : TokenKind.BlockBegin, kind == '{' ? "{{" : "{%", open);
        int depth = 0, i = inner;
        while (true)
        {
            while (i < source.Length && char.IsWhiteSpace(source[i])) i++;
            if (i >= source.Length) throw Error(open, $"the tag opened with '{{{kind}' is never closed.");
            string closer = kind == '{' ? "}}" : "%}";
            foreach (string marker in (string[])[closer, "-" + closer, "+" + closer])
            {
                if ((kind == '{' && depth > 0) || !source.AsSpan(i).StartsWith(marker)) continue;
                Emit(kind == '{' ? TokenKind.VariableEnd : TokenKind.BlockEnd, closer, i);
                return (i + marker.Length, marker.Length == 2 ? '\0' : marker[0]);
            }
            char c = source[i];
            if (char.IsLetter(c) || c == '_') i = ReadName(i);
            else if (char.IsAsciiDigit(c)) i = ReadNumber(i);
            else if (c is '\'' or '"') i = ReadString(i);
            else
            {
                string? op = null;
                foreach (string candidate in Operators)
                    if (source.AsSpan(i).StartsWith(candidate)) { op = candidate; break; }
                if (op is null) throw Error(i, $"unexpected character '{c}' inside a tag.");
                if (op is "{" or "[" or "(") depth++;
                else if (op is "}" or "]" or ")") depth--;
                Emit(TokenKind.Operator, op, i);
                i += op.Length;
            }
        }
    }

    private int ReadName(int start)
    {
        int i = start;
        while (i < source.Length && (char.IsLetterOrDigit(source[i]) || source[i] == '_')) i++;
        Emit(TokenKind.Name, source[start..i], start);
        return i;
    }

    private int ReadNumber(int start)
    {
        int i = start;
        while (i < source.Length && (char.IsAsciiDigit(source[i]) || source[i] == '_')) i++;
        bool isFloat = false;
        if (i + 1 < source.Length && source[i] == '.' && char.IsAsciiDigit(source[i + 1]))
        {
            isFloat = true;
            i++;
            while (i < source.Length && char.IsAsciiDigit(source[i])) i++;
        }
        if (i < source.Length && source[i] is 'e' or 'E')
        {
            int j = i + 1;
            if (j < source.Length && source[j] is '+' or '-') j++;
            if (j < source.Length && char.IsAsciiDigit(source[j]))
            {
                isFloat = true;
                i = j;
                while (i < source.Length && char.IsAsciiDigit(source[i])) i++;
            }
        }
        string text = source[start..i].Replace("_", "");
        Emit(isFloat ? TokenKind.Float : TokenKind.Integer, text, start);
        return i;
    }

    /// <summary>A quoted string with Python's escapes (\n, \t, \\, \', \", \xhh, \uhhhh, \Uhhhhhhhh; others kept).</summary>
    private int ReadString(int start)
    {
        char quote = source[start];
        var value = new StringBuilder();
        int i = start + 1;
        while (true)
        {
            if (i >= source.Length) throw Error(start, "a string literal is never closed.");
            char c = source[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= source.Length)
            {
                value.Append(c);
                i++;
                continue;
            }
            char e = source[i + 1];
            i += 2;
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '0': value.Append('\0'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case '\\': case '\'': case '"': value.Append(e); break;
                case '\n': break;
                case 'x': case 'u': case 'U':
                    int length = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + length > source.Length || !int.TryParse(source.AsSpan(i, length), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                        throw Error(i, $"bad \\{e} escape in a string literal.");
                    value.Append(char.ConvertFromUtf32(code));
                    i += length;
                    break;
                default: value.Append('\\').Append(e); break;
            }
        }
        Emit(TokenKind.String, value.ToString(), start);
        return i + 1;
    }
}
