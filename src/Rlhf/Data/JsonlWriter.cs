// Writes JSON Lines files atomically (temp file beside the target, flushed, renamed); gzip when the name ends in .gz.
using System.IO.Compression;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Models;

namespace Rlhf.Data;

/// <summary>
/// JSON Lines output for converted data. All-or-nothing: if enumeration or writing fails, an existing file at the path
/// is left untouched and no temp file remains.
/// </summary>
internal static class JsonlWriter
{
    private static readonly JsonSerializerOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    /// <summary>
    /// Writes one JSON value per line: <see cref="JsonNode"/>s as they are, <see cref="JsonElement"/>s raw, other objects
    /// serialized with System.Text.Json (public properties). Returns the number of rows written.
    /// </summary>
    public static int WriteAtomic(string path, IEnumerable<object> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
            throw new DirectoryNotFoundException($"{path}: output folder '{folder}' does not exist; create it first");
        int count = 0;
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        AtomicFile.Write(path, file =>
        {
            // Disposing the writer finishes the gzip stream but leaves the file open for AtomicFile to flush and rename.
            Stream stream = gzip ? new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true) : file;
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: !gzip) { NewLine = "\n" };
            foreach (var row in rows)
            {
                string line = row switch
                {
                    JsonNode node => node.ToJsonString(Options),
                    JsonElement element => JsonSerializer.Serialize(element, Options),
                    null => throw new ArgumentException($"row {count + 1} is null; every row must be an object"),
                    _ => JsonSerializer.Serialize(row, row.GetType(), Options),
                };
                writer.WriteLine(line);
                count++;
            }
        });
        return count;
    }

    /// <summary>Preference pairs in TRL's explicit format: {"prompt","chosen","rejected"} (+ "margin" when set).</summary>
    public static int WritePreferences(string path, IEnumerable<PreferencePair> pairs) =>
        WriteAtomic(path, pairs.Select(p =>
        {
            var o = new JsonObject { ["prompt"] = p.Prompt, ["chosen"] = p.Chosen, ["rejected"] = p.Rejected };
            if (p.Margin is float m)
                o["margin"] = m;
            return (object)o;
        }));

    /// <summary>SFT examples as {"prompt","response"} (read back by <see cref="DataFormats.ParseInstruction"/>).</summary>
    public static int WriteInstructions(string path, IEnumerable<InstructionExample> examples) =>
        WriteAtomic(path, examples.Select(e => (object)new JsonObject { ["prompt"] = e.Instruction, ["response"] = e.Response }));

    /// <summary>Ranked examples as {"prompt","responses"} (+ "scores").</summary>
    public static int WriteRanked(string path, IEnumerable<RankedExample> examples) =>
        WriteAtomic(path, examples.Select(e =>
        {
            var o = new JsonObject { ["prompt"] = e.Prompt, ["responses"] = new JsonArray([.. e.Responses.Select(r => (JsonNode?)r)]) };
            if (e.Scores is { } s)
                o["scores"] = new JsonArray([.. s.Select(x => (JsonNode?)x)]);
            return (object)o;
        }));
}
