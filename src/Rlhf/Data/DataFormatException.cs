// The error raised when a data file or one of its rows is malformed: the message names the file and row.
namespace Rlhf.Data;

/// <summary>
/// A data file or row cannot be used. <see cref="Exception.Message"/> reads <c>data.jsonl:17: field 'chosen' is missing</c>
/// (location, then problem, then how to fix it where that is not obvious).
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Where the problem is: <c>file:line</c>, <c>file:element N</c> or just the file.</summary>
    public string Location { get; }

    /// <summary>A short reason suitable for counting, e.g. <c>invalid JSON</c> or <c>missing field 'chosen'</c>.</summary>
    public string Reason { get; }

    /// <summary>The problem without the location.</summary>
    public string Detail { get; }

    internal DataFormatException(string location, string reason, string detail, Exception? innerException = null)
        : base($"{location}: {detail}", innerException)
    {
        Location = location;
        Reason = reason;
        Detail = detail;
    }
}
