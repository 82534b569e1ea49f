// Append-only, durable, multi-process-safe storage of judgements: one JSON line per record, fsync'd at once.
using System.Text;

namespace Rlhf.Feedback;

/// <summary>
/// The feedback JSONL file. <see cref="Append"/> takes an exclusive lock on the file (an advisory lock that other
/// processes using this class respect too), writes the whole line with one write, flushes it to disk and releases
/// the lock, so two annotators on one file never lose or interleave a line. The file is never truncated or rewritten.
/// </summary>
internal sealed class FeedbackStore
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public string Path { get; }

    public FeedbackStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>Appends one record as a line; returns when it is on disk.</summary>
    public void Append(FeedbackRecord record) => AppendLine(record.ToJsonLine());

    internal void AppendLine(string json)
    {
        if (json.Contains('\n') || json.Contains('\r')) throw new ArgumentException("a record must serialise to one line", nameof(json));
        string? directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        using var stream = Retry(() => new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0));
        // Only this holder of the exclusive lock writes now; every write goes after the current end (never truncates).
        // A crash mid-write could leave a partial last line: start ours on a fresh line rather than glue onto it.
        bool needsNewline = false;
        if (stream.Length > 0)
        {
            stream.Seek(-1, SeekOrigin.End);
            needsNewline = stream.ReadByte() != '\n';
        }
        stream.Seek(0, SeekOrigin.End);
        byte[] bytes = Encoding.UTF8.GetBytes((needsNewline ? "\n" : "") + json + "\n");
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Opens the file, retrying while another writer holds it: .NET takes an advisory flock on Unix (exclusive for
    /// FileShare.None, shared otherwise), so writers exclude each other and readers wait out a write in progress.
    /// </summary>
    private static FileStream Retry(Func<FileStream> open)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        int delayMs = 1;
        while (true)
        {
            try
            {
                return open();
            }
            catch (IOException) when (started.Elapsed < LockTimeout)
            {
                Thread.Sleep(Random.Shared.Next(delayMs, 2 * delayMs + 1));
                delayMs = Math.Min(delayMs * 2, 50);
            }
        }
    }

    /// <summary>Reads every record; lines that do not parse (e.g. a write cut short by a crash) are counted, not returned.</summary>
    public FeedbackFile Read() => ReadFile(Path);

    /// <summary>True when the first non-empty line of a (plain JSONL) file is an `rlhf label` judgement.</summary>
    public static bool IsFeedbackFile(string path)
    {
        if (!File.Exists(path) || path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return false;
        var first = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        if (first is null) return false;
        try
        {
            FeedbackRecord.Parse(first);
            return first.Contains("\"annotator\"", StringComparison.Ordinal) && first.Contains("\"ties\"", StringComparison.Ordinal);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public static FeedbackFile ReadFile(string path)
    {
        var records = new List<FeedbackRecord>();
        var bad = new List<int>();
        if (!File.Exists(path)) return new FeedbackFile(records, bad);
        using var stream = Retry(() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                records.Add(FeedbackRecord.Parse(line));
            }
            catch (FormatException)
            {
                bad.Add(lineNumber);
            }
        }
        return new FeedbackFile(records, bad);
    }
}

/// <summary>The records of a feedback file and the (1-based) numbers of lines that could not be read.</summary>
internal sealed record FeedbackFile(IReadOnlyList<FeedbackRecord> Records, IReadOnlyList<int> MalformedLines);
