// Streams JSON objects from .jsonl / .json (array) files, gzip-compressed or not, and from Parquet files (ParquetRows),
// each tagged with file and line (or row).
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Rlhf.Data;

/// <summary>How a data file is laid out.</summary>
internal enum DataFileLayout
{
    /// <summary>One JSON object per line (.jsonl, .ndjson); empty lines are ignored.</summary>
    JsonLines,

    /// <summary>A top-level JSON array of objects (.json), streamed element by element.</summary>
    JsonArray,

    /// <summary>A Parquet table (.parquet, or any file starting with <c>PAR1</c>), streamed row group by row group.</summary>
    Parquet,
}

/// <summary>
/// Reads rows lazily. Compression is decided by the gzip magic bytes (1f 8b), not by the name; the layout by the
/// extension (<c>.jsonl</c>/<c>.ndjson</c> are JSON Lines) or, for <c>.json</c> and anything else, by the first
/// non-blank character (<c>[</c> → array, otherwise JSON Lines). A <c>.gz</c> suffix is ignored for the extension.
/// A <c>.parquet</c> name or the magic bytes <c>PAR1</c> make it a Parquet table (<see cref="ParquetRows"/>).
/// </summary>
internal static class DataRowReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// The longest line (JSON Lines) or array element (JSON array) read, in characters after decompression: 16 Mi, far
    /// above any real row, so that a corrupt or hostile file fails with a message instead of exhausting memory.
    /// </summary>
    public const int DefaultMaxLineLength = 16 << 20;

    /// <summary>
    /// Rows of <paramref name="path"/>. A malformed row (invalid JSON, not an object) throws
    /// <see cref="DataFormatException"/> (<c>data.jsonl:17: invalid JSON (…)</c>) unless <paramref name="skipBadRows"/>,
    /// in which case it is counted in <paramref name="report"/> and skipped. A syntax error inside a JSON array cannot be
    /// skipped (the rest of the array is unreadable) and always throws.
    /// </summary>
    /// <param name="maxLineLength">Longer lines or array elements are bad rows (see <see cref="DefaultMaxLineLength"/>).</param>
    public static IEnumerable<DataRow> Read(string path, bool skipBadRows = false, DataReport? report = null, int maxLineLength = DefaultMaxLineLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineLength);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: data file not found", path);
        return DetectLayout(path) switch
        {
            DataFileLayout.Parquet => ReadParquet(path, skipBadRows, report, maxLineLength),
            DataFileLayout.JsonArray => ReadArray(path, skipBadRows, report, maxLineLength),
            _ => ReadLines(path, skipBadRows, report, maxLineLength),
        };
    }

    /// <summary>True when the file starts with the gzip magic bytes.</summary>
    public static bool IsGzip(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        return f.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>The layout <see cref="Read"/> will use for <paramref name="path"/>.</summary>
    public static DataFileLayout DetectLayout(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        string ext = Path.GetExtension(name).ToLowerInvariant();
        if (ext == ".parquet" || ParquetRows.HasMagic(path))
            return DataFileLayout.Parquet;
        if (ext is ".jsonl" or ".ndjson")
            return DataFileLayout.JsonLines;
        using var stream = OpenText(path);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        int c;
        try
        {
            while ((c = reader.Read()) >= 0 && char.IsWhiteSpace((char)c))
            {
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, "corrupt gzip", $"corrupt gzip data ({e.Message}); re-create or re-download the file", e);
        }
        return c == '[' ? DataFileLayout.JsonArray : DataFileLayout.JsonLines;
    }

    /// <summary>Opens <paramref name="path"/> for reading, decompressing it when it is gzip.</summary>
    public static Stream OpenText(string path)
    {
        bool gzip = IsGzip(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return gzip ? new CheckedGzipStream(file) : file;
    }

    private static IEnumerable<DataRow> ReadLines(string path, bool skipBadRows, DataReport? report, int maxLineLength)
    {
        using var stream = OpenText(path);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16);
        var lines = new BoundedLineReader(reader, maxLineLength);
        int lineNumber = 0;
        while (true)
        {
            string? line;
            long lineLength;
            try
            {
                if (!lines.Next(out line, out lineLength))
                    yield break;
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException($"{path}:{lineNumber + 1}", "corrupt gzip",
                    $"corrupt gzip data ({e.Message}); re-create or re-download the file", e);
            }
            lineNumber++;
            DataRow? row = null;
            DataFormatException? error = null;
            if (line is null)
                error = TooLong($"{path}:{lineNumber}", "line", lineLength, maxLineLength);
            else if (string.IsNullOrWhiteSpace(line))
                continue;
            else
            {
                try
                {
                    using var doc = JsonDocument.Parse(line, DocumentOptions);
                    row = new DataRow(path, lineNumber, false, doc.RootElement.Clone());
                }
                catch (JsonException e)
                {
                    error = new DataFormatException($"{path}:{lineNumber}", "invalid JSON",
                        $"invalid JSON ({Shorten(e)}); each line must be one complete JSON object", e);
                }
            }
            if (row is not null)
                error = CheckRow(row);
            if (error is not null)
            {
                if (!skipBadRows)
                    throw error;
                report?.AddBadRow(error);
                continue;
            }
            yield return row!;
        }
    }

    /// <summary>The rows that pass <see cref="CheckRow"/>; the others throw, or are counted and skipped.</summary>
    private static IEnumerable<DataRow> Checked(IEnumerable<DataRow> rows, bool skipBadRows, DataReport? report)
    {
        foreach (var row in rows)
        {
            if (CheckRow(row) is { } error)
            {
                if (!skipBadRows)
                    throw error;
                report?.AddBadRow(error);
                continue;
            }
            yield return row;
        }
    }

    private static IEnumerable<DataRow> ReadParquet(string path, bool skipBadRows, DataReport? report, int maxRowLength) =>
        Checked(ParquetRows.Read(path, skipBadRows, report, maxRowLength), skipBadRows, report);

    private static IEnumerable<DataRow> ReadArray(string path, bool skipBadRows, DataReport? report, int maxLineLength) =>
        Checked(ArrayElements(path, maxLineLength), skipBadRows, report);

    private static IEnumerable<DataRow> ArrayElements(string path, int maxLineLength)
    {
        using var stream = OpenText(path);
        var parser = new ArrayParser(stream, path, maxLineLength);
        while (parser.Next() is { } element)
            yield return new DataRow(path, parser.Index, true, element);
    }

    /// <summary>
    /// Streams the elements of a top-level JSON array with <see cref="Utf8JsonReader"/> over a growing window of the
    /// stream, so memory is bounded by the largest element, not the file.
    /// </summary>
    private sealed class ArrayParser(Stream stream, string path, int maxElementLength)
    {
        private byte[] _buffer = new byte[1 << 16];
        private int _length;
        private int _start;
        private bool _final;
        private bool _begun;
        private bool _done;
        private bool _bomChecked;
        private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = 64 });

        /// <summary>1-based index of the element last returned.</summary>
        public int Index { get; private set; }

        public JsonElement? Next()
        {
            while (!_done)
            {
                var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _length - _start), _final, _state);
                try
                {
                    if (TryStep(ref reader, out var element))
                    {
                        Advance((int)reader.BytesConsumed, reader.CurrentState);
                        if (element is not null)
                            return element;
                        continue;
                    }
                }
                catch (JsonException e)
                {
                    long line = (e.LineNumber ?? 0) + 1; // the reader state carries line numbers across windows
                    throw new DataFormatException(DataRow.FormatLocation(path, Index + 1, true), "invalid JSON",
                        $"invalid JSON ({Shorten(e)} on line {line}); the file must be one JSON array of objects — fix the syntax or convert it to JSON Lines", e);
                }
                Fill();
            }
            return null;
        }

        /// <summary>Reads one step (the opening bracket, one element, or the closing bracket); false when more bytes are needed.</summary>
        private bool TryStep(ref Utf8JsonReader reader, out JsonElement? element)
        {
            element = null;
            if (!reader.Read())
            {
                if (_final)
                    throw new DataFormatException(path, "invalid JSON", _begun
                        ? "invalid JSON (the array is not closed with ']'); the file looks truncated"
                        : "the file is empty; a .json data file must hold a JSON array of objects");
                return false;
            }
            if (!_begun)
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                    throw new DataFormatException(path, "not a JSON array",
                        "the top-level value is not a JSON array; use a .jsonl file with one object per line, or wrap the objects in [ ]");
                _begun = true;
                return true;
            }
            if (reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == 0)
            {
                _done = true;
                return true;
            }
            if (!JsonDocument.TryParseValue(ref reader, out var doc))
                return false;
            using (doc)
                element = doc.RootElement.Clone();
            Index++;
            return true;
        }

        private void Advance(int consumed, JsonReaderState state)
        {
            _start += consumed;
            _state = state;
        }

        private void Fill()
        {
            if (_final)
                throw new DataFormatException(path, "invalid JSON", "invalid JSON (unexpected end of file); the file looks truncated");
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _length - _start);
                _length -= _start;
                _start = 0;
            }
            if (_length - _start > maxElementLength)
                throw TooLong(DataRow.FormatLocation(path, Index + 1, true), "element", _length - _start, maxElementLength, atLeast: true);
            if (_length == _buffer.Length)
                Array.Resize(ref _buffer, _buffer.Length * 2);
            int n;
            try
            {
                // Fill the window completely, so an element is re-parsed only when the window grows.
                n = stream.ReadAtLeast(_buffer.AsSpan(_length), _buffer.Length - _length, throwOnEndOfStream: false);
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException(path, "corrupt gzip", $"corrupt gzip data ({e.Message}); re-create or re-download the file", e);
            }
            if (n < _buffer.Length - _length)
                _final = true;
            _length += n;
            if (!_bomChecked && (_length >= 3 || _final))
            {
                _bomChecked = true;
                if (_buffer.AsSpan(0, _length).StartsWith("\uFEFF"u8))
                    _start = 3;
            }
        }
    }

    /// <summary>Null for a usable row; else why not (not an object, or text that cannot be read).</summary>
    private static DataFormatException? CheckRow(DataRow row)
    {
        if (row.Value.ValueKind != JsonValueKind.Object)
            return NotObject(row);
        if (Rlhf.Models.JsonText.FindUndecodable(row.Value) is { } where)
            return row.Error("invalid text", Rlhf.Models.JsonText.UndecodableMessage(where));
        return null;
    }

    private static DataFormatException TooLong(string location, string what, long length, int limit, bool atLeast = false) =>
        new(location, $"{what} too long",
            $"the {what} is {(atLeast ? "over " : "")}{length:N0} {(atLeast ? "bytes" : "characters")} long, above the limit of {limit:N0}; raise it with --max-line-length if the file is right");

    private static DataFormatException NotObject(DataRow row) =>
        row.Error("not a JSON object", $"row is {DataRow.Describe(row.Value.ValueKind)}, not a JSON object; each row must be an object such as {{\"chosen\": \"…\", \"rejected\": \"…\"}}");

    private static string Shorten(JsonException e)
    {
        string m = Rlhf.Models.JsonText.ShortenQuotes(e.Message);
        int cut = m.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
            cut = m.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0)
            m = m[..cut];
        m = m.TrimEnd(' ', '.', '|');
        return e.BytePositionInLine is long col ? $"{m} at column {col + 1}" : m;
    }
}
