// Decompresses a gzip file and, at its end, checks the trailer (RFC 1952: CRC-32 and length of the data), so a
// truncated or damaged file is an error instead of silently shorter or altered data.
using System.IO.Compression;

namespace Rlhf.Data;

/// <summary>
/// A read-only stream over the decompressed contents of one gzip member. When the data ends, the CRC-32 and the size
/// (mod 2³²) of what was read must match the file's last 8 bytes; otherwise <see cref="InvalidDataException"/> is
/// thrown, as <see cref="GZipStream"/> does for data it cannot decode. (.NET stops silently at a truncated member.)
/// Concatenated members (<c>cat a.gz b.gz</c>) are reported as corrupt.
/// </summary>
internal sealed class CheckedGzipStream : Stream
{
    /// <summary>10-byte header, at least an empty deflate block (2 bytes), 8-byte trailer.</summary>
    private const int MinimumLength = 20;

    private readonly GZipStream inner;
    private readonly uint expectedCrc, expectedSize;
    private readonly long fileLength;
    private uint crc = 0xFFFFFFFFu;
    private uint size;
    private bool checkedEnd;

    public CheckedGzipStream(FileStream file)
    {
        fileLength = file.Length;
        if (fileLength >= 8)
        {
            Span<byte> trailer = stackalloc byte[8];
            file.Seek(-8, SeekOrigin.End);
            file.ReadExactly(trailer);
            file.Seek(0, SeekOrigin.Begin);
            expectedCrc = BitConverter.ToUInt32(trailer[..4]);
            expectedSize = BitConverter.ToUInt32(trailer[4..]);
        }
        inner = new GZipStream(file, CompressionMode.Decompress);
    }

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        int read = inner.Read(buffer);
        if (read > 0)
        {
            crc = Crc32.Update(crc, buffer[..read]);
            size += (uint)read;
        }
        else CheckEnd();
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private void CheckEnd()
    {
        if (checkedEnd) return;
        checkedEnd = true;
        if (fileLength < MinimumLength)
            throw new InvalidDataException($"the file is {fileLength} bytes, shorter than any complete gzip file");
        if (~crc != expectedCrc || size != expectedSize)
            throw new InvalidDataException("the data does not match the gzip trailer's checksum and size: the file is truncated, damaged or several gzip files joined");
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>CRC-32 as gzip and zlib define it (reflected polynomial 0xEDB88320), table-driven.</summary>
    internal static class Crc32
    {
        private static readonly uint[] Table = BuildTable();

        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }

        /// <summary>The CRC-32 of <paramref name="data"/> (initial value and final xor 0xFFFFFFFF).</summary>
        public static uint Compute(ReadOnlySpan<byte> data) => ~Update(0xFFFFFFFFu, data);

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                table[n] = c;
            }
            return table;
        }
    }
}
