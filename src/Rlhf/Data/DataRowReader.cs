// Streams JSON objects from .jsonl / .json (array) files, gzip-compressed or not, each tagged with file and line.
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Rlhf.Data;

/// <summary>How a data file is laid out.</summary>
public enum DataFileLayout
{
    /// <summary>One JSON object per line (.jsonl, .ndjson); empty lines are ignored.</summary>
    JsonLines,

    /// <summary>A top-level JSON array of objects (.json), streamed element by element.</summary>
    JsonArray,
}

/// <summary>
/// Reads rows lazily. Compression is decided by the gzip magic bytes (1f 8b), not by the name; the layout by the
/// extension (<c>.jsonl</c>/<c>.ndjson</c> are JSON Lines) or, for <c>.json</c> and anything else, by the first
/// non-blank character (<c>[</c> → array, otherwise JSON Lines). A <c>.gz</c> suffix is ignored for the extension.
/// </summary>
public static class DataRowReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Rows of <paramref name="path"/>. A malformed row (invalid JSON, not an object) throws
    /// <see cref="DataFormatException"/> (<c>data.jsonl:17: invalid JSON (…)</c>) unless <paramref name="skipBadRows"/>,
    /// in which case it is counted in <paramref name="report"/> and skipped. A syntax error inside a JSON array cannot be
    /// skipped (the rest of the array is unreadable) and always throws.
    /// </summary>
    public static IEnumerable<DataRow> Read(string path, bool skipBadRows = false, DataReport? report = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: data file not found", path);
        var layout = DetectLayout(path);
        return layout == DataFileLayout.JsonArray
            ? ReadArray(path, skipBadRows, report)
            : ReadLines(path, skipBadRows, report);
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
        return gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static IEnumerable<DataRow> ReadLines(string path, bool skipBadRows, DataReport? report)
    {
        using var stream = OpenText(path);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16);
        int lineNumber = 0;
        while (true)
        {
            string? line;
            try
            {
                line = reader.ReadLine();
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException($"{path}:{lineNumber + 1}", "corrupt gzip",
                    $"corrupt gzip data ({e.Message}); re-create or re-download the file", e);
            }
            if (line is null)
                yield break;
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            DataRow? row = null;
            DataFormatException? error = null;
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
            if (row is not null && row.Value.ValueKind != JsonValueKind.Object)
                error = NotObject(row);
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

    private static IEnumerable<DataRow> ReadArray(string path, bool skipBadRows, DataReport? report)
    {
        using var stream = OpenText(path);
        using var e = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream).ToBlockingEnumerable().GetEnumerator();
        int index = 0;
        while (true)
        {
            try
            {
                if (!e.MoveNext())
                    yield break;
            }
            catch (JsonException ex)
            {
                throw new DataFormatException(DataRow.FormatLocation(path, index + 1, true), "invalid JSON",
                    $"invalid JSON ({Shorten(ex)}); the file must be one JSON array of objects — fix the syntax or convert it to JSON Lines", ex);
            }
            catch (InvalidDataException ex)
            {
                throw new DataFormatException(DataRow.FormatLocation(path, index + 1, true), "corrupt gzip",
                    $"corrupt gzip data ({ex.Message}); re-create or re-download the file", ex);
            }
            index++;
            var row = new DataRow(path, index, true, e.Current);
            if (row.Value.ValueKind != JsonValueKind.Object)
            {
                var error = NotObject(row);
                if (!skipBadRows)
                    throw error;
                report?.AddBadRow(error);
                continue;
            }
            yield return row;
        }
    }

    private static DataFormatException NotObject(DataRow row) =>
        row.Error("not a JSON object", $"row is {DataRow.Describe(row.Value.ValueKind)}, not a JSON object; each row must be an object such as {{\"chosen\": \"…\", \"rejected\": \"…\"}}");

    private static string Shorten(JsonException e)
    {
        string m = e.Message;
        int cut = m.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
            cut = m.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0)
            m = m[..cut];
        m = m.TrimEnd(' ', '.', '|');
        return e.BytePositionInLine is long col ? $"{m} at column {col + 1}" : m;
    }
}
