// ParquetRows against apache/parquet-testing files, whose rows an independent reader (hyparquet,
// tools/reference/parquet_fixtures.mjs) wrote as JSON; plus the errors a wrong, truncated or corrupt file gets.
using System.Globalization;
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class ParquetRowsTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    public static TheoryData<string> ApacheFiles() =>
    [
        "alltypes_plain.snappy", "list_columns", "nested_lists.snappy", "nested_maps.snappy",
        "nonnullable.impala", "null_list", "nullable.impala", "nulls.snappy", "old_list_structure",
    ];

    /// <summary>
    /// Every row equals hyparquet's: same row count, field names in order, types, nulls, nesting. Numbers are equal as
    /// written, or (float32 columns, which hyparquet widens exactly while we print the shortest float text) equal after
    /// rounding both to float32; timestamps are the same instant (hyparquet writes UTC ISO strings).
    /// </summary>
    [Theory]
    [MemberData(nameof(ApacheFiles))]
    public void Rows_equal_the_independent_reader(string name)
    {
        string path = Fixtures.Path("parquet", "apache", name + ".parquet");
        var rows = DataRowReader.Read(path).ToList();
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("parquet", "apache", name + ".json")));
        var want = expected.RootElement.EnumerateArray().ToList();
        Assert.Equal(want.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal($"{path}:row {i + 1}", rows[i].Location);
            AssertSame(want[i], rows[i].Value, $"row {i + 1}");
        }
    }

    private static void AssertSame(JsonElement want, JsonElement got, string where)
    {
        if (want.ValueKind == JsonValueKind.String && got.ValueKind == JsonValueKind.String
            && DateTime.TryParse(want.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var wantTime)
            && want.GetString()!.EndsWith('Z'))
        {
            var gotTime = DateTime.Parse(got.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            Assert.True(wantTime == gotTime, $"{where}: {got} is not the instant {want}");
            return;
        }
        Assert.True(want.ValueKind == got.ValueKind, $"{where}: {got.ValueKind} {got} where hyparquet has {want.ValueKind} {want}");
        switch (want.ValueKind)
        {
            case JsonValueKind.Object:
                Assert.Equal(want.EnumerateObject().Select(p => p.Name), got.EnumerateObject().Select(p => p.Name));
                foreach (var p in want.EnumerateObject())
                    AssertSame(p.Value, got.GetProperty(p.Name), $"{where}.{p.Name}");
                break;
            case JsonValueKind.Array:
                Assert.True(want.GetArrayLength() == got.GetArrayLength(), $"{where}: {got} where hyparquet has {want}");
                for (int i = 0; i < want.GetArrayLength(); i++)
                    AssertSame(want[i], got[i], $"{where}[{i}]");
                break;
            case JsonValueKind.Number:
                bool same = want.GetRawText() == got.GetRawText() || want.GetDouble() == got.GetDouble()
                    || (float)want.GetDouble() == (float)got.GetDouble();
                Assert.True(same, $"{where}: {got} where hyparquet has {want}");
                break;
            default:
                Assert.True(want.GetRawText() == got.GetRawText(), $"{where}: {got} where hyparquet has {want}");
                break;
        }
    }

    [Fact]
    public void Preference_file_rows_equal_their_json_lines_twin_across_row_groups()
    {
        foreach (string name in new[] { "trl_preference", "hh_preference" })
        {
            var parquet = DataRowReader.Read(Fixtures.Path("parquet", name + ".parquet")).ToList();
            var jsonl = DataRowReader.Read(Fixtures.Path("parquet", name + ".jsonl")).ToList();
            Assert.Equal(jsonl.Count, parquet.Count);
            for (int i = 0; i < jsonl.Count; i++)
                AssertSame(jsonl[i].Value, parquet[i].Value, $"{name} row {i + 1}");
        }
    }

    [Fact]
    public void Layout_is_parquet_by_name_or_by_magic()
    {
        Assert.Equal(DataFileLayout.Parquet, DataRowReader.DetectLayout(Fixtures.Path("parquet", "hh_preference.parquet")));
        string renamed = dir.Sub("data.bin");
        File.Copy(Fixtures.Path("parquet", "hh_preference.parquet"), renamed);
        Assert.Equal(DataFileLayout.Parquet, DataRowReader.DetectLayout(renamed));
        Assert.Equal(5, DataRowReader.Read(renamed).Count());
        Assert.False(PromptRows.IsPlainText(renamed));
    }

    private sealed class ScoredPair
    {
        public string? chosen { get; set; }
        public string? rejected { get; set; }
        public double score { get; set; }
    }

    [Fact]
    public async Task A_value_json_cannot_hold_is_a_bad_row_that_can_be_skipped()
    {
        string path = dir.Sub("nan.parquet");
        ScoredPair[] rows = [new() { chosen = "a", rejected = "b", score = 1 }, new() { chosen = "c", rejected = "d", score = double.NaN }, new() { chosen = "e", rejected = null, score = 2.5 }];
        await using (var file = File.Create(path))
            await Parquet.Serialization.ParquetSerializer.SerializeAsync(rows, file);
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.Equal($"{path}:row 2: column 'score' holds NaN, which JSON cannot hold", e.Message);
        var report = new DataReport { Source = path };
        var kept = DataRowReader.Read(path, skipBadRows: true, report).ToList();
        Assert.Equal([1, 3], kept.Select(r => r.Number));
        Assert.Equal(JsonValueKind.Null, kept[1].Value.GetProperty("rejected").ValueKind);
        Assert.Equal(2.5, kept[1].Value.GetProperty("score").GetDouble());
        Assert.Equal(1, report.BadRows);
        // A row above the length limit is a bad row too.
        var tooLong = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path, maxLineLength: 10).First());
        Assert.StartsWith($"{path}:row 1: the row is", tooLong.Message);
    }

    [Fact]
    public void A_json_file_named_parquet_names_the_file()
    {
        string path = dir.Sub("train.parquet");
        File.WriteAllText(path, """{"chosen": "a", "rejected": "b"}""" + "\n");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}: not a Parquet file", e.Message);
    }

    [Fact]
    public void A_truncated_file_names_the_file()
    {
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("parquet", "trl_preference.parquet"));
        string path = dir.Sub("cut.parquet");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}: the Parquet file is truncated", e.Message);
    }

    [Fact]
    public void Corrupt_pages_or_footer_name_the_file()
    {
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("parquet", "trl_preference.parquet"));
        // Overwrite the column data between the header magic and the footer; the frame stays valid.
        var pages = (byte[])bytes.Clone();
        int footerStart = pages.Length - 8 - BitConverter.ToInt32(pages, pages.Length - 8);
        for (int i = 4; i < footerStart; i++)
            pages[i] = (byte)(i * 37);
        string pagesPath = dir.Sub("pages.parquet");
        File.WriteAllBytes(pagesPath, pages);
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(pagesPath).ToList());
        Assert.StartsWith($"{pagesPath}: corrupt Parquet data", e.Message);

        // A footer length pointing outside the file.
        var footer = (byte[])bytes.Clone();
        BitConverter.GetBytes(int.MaxValue).CopyTo(footer, footer.Length - 8);
        string footerPath = dir.Sub("footer.parquet");
        File.WriteAllBytes(footerPath, footer);
        e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(footerPath).ToList());
        Assert.StartsWith($"{footerPath}: corrupt Parquet data", e.Message);
    }

    [Fact]
    public void What_parquet_net_cannot_read_names_the_file_and_column()
    {
        // Nested columns in version-2 data pages (hyparquet-writer's only kind): Parquet.Net 6.1.0 throws NotImplemented.
        string v2 = Fixtures.Path("parquet", "trl_preference.v2.parquet");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(v2).ToList());
        Assert.StartsWith($"{v2}: column 'chosen/list/element/content' is stored in a way the Parquet reader (Parquet.Net) cannot read yet", e.Message);
        // A boolean column in version-2 pages (apache's datapage_v2.snappy): Parquet.Net 6.1.0 fails inside its decoder.
        string booleans = Fixtures.Path("parquet", "apache", "datapage_v2.snappy.parquet");
        e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(booleans).ToList());
        Assert.StartsWith($"{booleans}: corrupt Parquet data in column 'd'", e.Message);
    }

    [Fact]
    public void A_column_layout_it_cannot_read_names_the_file_and_column()
    {
        // Parquet.Net does not read a repeated group without a LIST annotation holding several fields.
        string path = Fixtures.Path("parquet", "apache", "repeated_no_annotation.parquet");
        var e = Assert.Throws<DataFormatException>(() => DataRowReader.Read(path).ToList());
        Assert.StartsWith($"{path}: a column layout rlhf cannot read", e.Message);
    }
}
