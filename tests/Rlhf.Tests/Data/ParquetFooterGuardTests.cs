// The guard in front of Parquet.Net 6.1.0's footer parser (ParquetFooterCheck) and page reader (ParquetInputStream):
// corrupt footers that made ParquetReader.CreateAsync spin forever get a one-line error naming the file, and every
// fixture's footer passes. Reads run on a worker with a bounded wait, so a regression fails instead of hanging the run.
using Rlhf.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class ParquetFooterGuardTests : IDisposable
{
    /// <summary>Far above the milliseconds a 6 KB file takes; only a hang reaches it.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Reads every row of <paramref name="path"/> on a worker: null when it reads, else the error; fails past <see cref="Bound"/>.</summary>
    private static DataFormatException? ReadWithin(string path)
    {
        var task = Task.Run(() =>
        {
            try
            {
                _ = DataRowReader.Read(path).Count();
                return null;
            }
            catch (DataFormatException e)
            {
                return e;
            }
        });
        Assert.True(task.Wait(Bound), $"reading {path} did not finish within {Bound.TotalSeconds} s (a hang)");
        return task.Result;
    }

    private static byte[] Fixture => File.ReadAllBytes(Fixtures.Path("parquet", "trl_preference.parquet"));

    [Fact]
    public void The_fuzz_case_that_hung_parquet_net_is_a_clear_error()
    {
        // RLHF_FUZZ_SEED=3, conversations.parquet case 77: bit 5 of byte 6037 flipped, the footer's last byte (the stop
        // that ends FileMetaData) just before the 4-byte footer length. Parquet.Net then reads the field header 0x20
        // (field 9, a binary), takes its length from the footer-length bytes and runs off the end of the footer, where
        // each byte reads as 0xFF and the varint it is reading never ends.
        byte[] bytes = Fixture;
        Assert.Equal(6046, bytes.Length);
        Assert.Equal(0x00, bytes[6037]);
        bytes[6037] ^= 0x20;
        string path = dir.Sub("case77.parquet");
        File.WriteAllBytes(path, bytes);
        var e = ReadWithin(path);
        Assert.NotNull(e);
        Assert.Equal($"{path}: corrupt Parquet footer (the footer ends inside a value at byte 3366 of the 3366-byte footer); re-download or re-create the file", e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(+1)]
    [InlineData(-0x26)]
    public void A_changed_footer_length_is_a_clear_error(int change)
    {
        byte[] bytes = Fixture;
        bytes[^8] = (byte)(bytes[^8] + change); // the low byte of the footer length (0x0d26 = 3366)
        string path = dir.Sub($"length{change}.parquet");
        File.WriteAllBytes(path, bytes);
        var e = ReadWithin(path);
        Assert.NotNull(e);
        Assert.StartsWith($"{path}: corrupt Parquet", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Every third footer byte of the fixture with one bit flipped (bit = position mod 8), and each of the 8 bits
    /// flipped in its last 16 bytes (the case above among them): each file reads or fails with one line naming it, in the bound.</summary>
    [Fact]
    public void Every_flipped_footer_byte_reads_or_fails_cleanly()
    {
        byte[] original = Fixture;
        int footerLength = BitConverter.ToInt32(original, original.Length - 8);
        int start = original.Length - 8 - footerLength;
        string path = dir.Sub("flip.parquet");
        int errors = 0, cases = 0;
        var flips = Enumerable.Range(start, footerLength + 4).Where(i => (i - start) % 3 == 0).Select(i => (i, 1 << (i % 8)))
            .Concat(Enumerable.Range(original.Length - 24, 16).SelectMany(i => Enumerable.Range(0, 8).Select(b => (i, 1 << b))));
        foreach (var (at, mask) in flips)
        {
            byte[] bytes = (byte[])original.Clone();
            bytes[at] ^= (byte)mask;
            File.WriteAllBytes(path, bytes);
            var e = ReadWithin(path);
            cases++;
            if (e is null) continue;
            errors++;
            Assert.True(e.Message.StartsWith(path + ": ", StringComparison.Ordinal) && !e.Message.Contains('\n') && e.Message.Length < 400,
                $"byte {at} ^ {mask}: {e.Message}");
        }
        Assert.True(errors > cases / 4, $"only {errors} of {cases} corrupt footers were errors");
    }

    [Theory]
    [InlineData("trl_preference.parquet")]
    [InlineData("hh_preference.parquet")]
    [InlineData("trl_preference.v2.parquet")]
    [InlineData("apache/alltypes_plain.snappy.parquet")]
    [InlineData("apache/datapage_v2.snappy.parquet")]
    [InlineData("apache/list_columns.parquet")]
    [InlineData("apache/nested_lists.snappy.parquet")]
    [InlineData("apache/nested_maps.snappy.parquet")]
    [InlineData("apache/nonnullable.impala.parquet")]
    [InlineData("apache/null_list.parquet")]
    [InlineData("apache/nullable.impala.parquet")]
    [InlineData("apache/nulls.snappy.parquet")]
    [InlineData("apache/old_list_structure.parquet")]
    [InlineData("apache/repeated_no_annotation.parquet")]
    public void Every_fixture_footer_passes_the_check(string name)
    {
        byte[] bytes = File.ReadAllBytes(Fixtures.Path(["parquet", .. name.Split('/')]));
        int footerLength = BitConverter.ToInt32(bytes, bytes.Length - 8);
        ParquetFooterCheck.Check(bytes.AsSpan(bytes.Length - 8 - footerLength, footerLength));
    }

    [Fact]
    public void Footers_that_would_overrun_or_nest_too_deep_are_rejected()
    {
        // FileMetaData { 1: i32 } without its stop byte; a schema list longer than the footer; a skipped list of lists
        // nested 100 deep (Parquet.Net's SkipField recursion); a field type (map) its SkipField cannot skip.
        Assert.Contains("ends inside a value", Assert.Throws<InvalidDataException>(() => ParquetFooterCheck.Check([0x15, 0x02])).Message);
        Assert.Contains("longer than the rest", Assert.Throws<InvalidDataException>(() => ParquetFooterCheck.Check([0x15, 0x02, 0x19, 0xfc, 0x7f, 0x00])).Message);
        byte[] nested = [0xf9, .. Enumerable.Repeat((byte)0x19, 100), 0x00];
        Assert.Contains("nests too deep", Assert.Throws<InvalidDataException>(() => ParquetFooterCheck.Check(nested)).Message);
        Assert.Contains("cannot skip", Assert.Throws<InvalidDataException>(() => ParquetFooterCheck.Check([0xfb, 0x00, 0x00])).Message);
        ParquetFooterCheck.Check([0x15, 0x02, 0x00]); // FileMetaData { version = 1 }
    }

    [Fact]
    public void The_input_stream_fails_at_its_end_and_past_its_budget()
    {
        using var memory = new MemoryStream([1, 2, 3]);
        using var stream = new ParquetInputStream(memory);
        stream.Seek(0, SeekOrigin.End);
        Assert.Throws<InvalidDataException>(() => stream.ReadByte());
        var buffer = new byte[3];
        long budget = ParquetInputStream.ReadBudgetPerFileByte * 3 + (1 << 20);
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            for (long read = 0; read <= budget; read += 3)
            {
                stream.Position = 0;
                stream.ReadExactly(buffer);
            }
        });
        Assert.Contains("page offsets or sizes that loop", e.Message);

        // Reads that return nothing at the end of the file run out of the budget too.
        using var empty = new ParquetInputStream(new MemoryStream([7]));
        empty.Seek(0, SeekOrigin.End);
        Assert.Throws<InvalidDataException>(() =>
        {
            int total = 0;
            for (long i = 0; i <= budget; i++) total += empty.Read(buffer, 0, 3);
            return total;
        });
    }
}
