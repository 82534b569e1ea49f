// Reads text lines (\n, \r or \r\n, as TextReader.ReadLine) with a length cap, so one huge line cannot exhaust memory.
using System.Text;

namespace Rlhf.Data;

internal sealed class BoundedLineReader(TextReader reader, int maxLength)
{
    private readonly char[] buffer = new char[1 << 16];
    private readonly StringBuilder line = new();
    private int position, length;
    private bool skipLineFeed;

    /// <summary>
    /// Reads the next line into <paramref name="text"/>; false at the end of the input. A line longer than the cap is
    /// consumed to its end without being kept: <paramref name="text"/> is null and <paramref name="lineLength"/> says how
    /// long it was. Memory stays within the cap plus one 64K-char buffer.
    /// </summary>
    public bool Next(out string? text, out long lineLength)
    {
        line.Clear();
        lineLength = 0;
        bool started = false;
        while (true)
        {
            if (position == length)
            {
                length = reader.Read(buffer, 0, buffer.Length);
                position = 0;
                if (length == 0)
                {
                    text = lineLength <= maxLength ? line.ToString() : null;
                    return started;
                }
            }
            if (skipLineFeed)
            {
                skipLineFeed = false;
                if (buffer[position] == '\n')
                {
                    position++;
                    continue;
                }
            }
            started = true;
            var rest = buffer.AsSpan(position, length - position);
            int end = rest.IndexOfAny('\r', '\n');
            var piece = end < 0 ? rest : rest[..end];
            Append(piece, ref lineLength);
            if (end < 0)
            {
                position = length;
                continue;
            }
            skipLineFeed = rest[end] == '\r';
            position += end + 1;
            text = lineLength <= maxLength ? line.ToString() : null;
            return true;
        }
    }

    private void Append(ReadOnlySpan<char> piece, ref long lineLength)
    {
        lineLength += piece.Length;
        if (lineLength <= maxLength) line.Append(piece);
        else line.Clear();
    }
}
