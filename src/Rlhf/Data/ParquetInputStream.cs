// The file as Parquet.Net reads it: its page-header reader turns the end of the stream (ReadByte() = -1) into 0xFF bytes
// and loops on them, and a corrupt page size can send its page loop back over the same bytes; here the end of the file
// is an error and the bytes read are capped, so no corrupt file can keep the reader busy forever.
namespace Rlhf.Data;

/// <summary>A read-only, seekable view of <paramref name="file"/>: reading a byte at its end throws, and reading more than
/// <see cref="ReadBudgetPerFileByte"/> times the file's length (plus 1 MiB; an empty read counts as one byte) in all
/// throws <see cref="InvalidDataException"/>.</summary>
internal sealed class ParquetInputStream(Stream file) : Stream
{
    /// <summary>A reader reads each column chunk once per row group and the footer once; 16 is far above that.</summary>
    public const int ReadBudgetPerFileByte = 16;

    private readonly long budget = ReadBudgetPerFileByte * file.Length + (1 << 20);
    private long read;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => file.Length;

    public override long Position
    {
        get => file.Position;
        set => file.Position = value;
    }

    public override int ReadByte()
    {
        int b = file.ReadByte();
        if (b < 0) throw new InvalidDataException($"a page header runs past the end of the file (byte {file.Length})");
        Count(1);
        return b;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => Count(file.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Adds a read to the tally; one that returns nothing at the end of the file counts as a byte, so a loop
    /// that keeps asking there runs out of budget too.</summary>
    private int Count(int bytes)
    {
        read += Math.Max(bytes, 1);
        if (read > budget)
            throw new InvalidDataException($"the reader has read {read:N0} bytes of a {file.Length:N0}-byte file (page offsets or sizes that loop)");
        return bytes;
    }

    public override long Seek(long offset, SeekOrigin origin) => file.Seek(offset, origin);
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
