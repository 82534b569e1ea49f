// A --dataset in Parquet (as the Hub serves datasets) goes through every command exactly as its JSON Lines twin:
// `data inspect` and `data convert` give the same kept rows and rendered texts, `dpo` trains on it, and row errors
// name the Parquet row; HuggingFaceH4/ultrafeedback_binarized's layout reads as TRL reads it.
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class ParquetDatasetTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string chatModel, plainModel;

    public ParquetDatasetTests()
    {
        chatModel = TinyModels.WithChatTemplate(TinyModels.Create(dir.Sub("chat"), context: 256), TinyModels.ChatMl);
        plainModel = TinyModels.Create(dir.Sub("plain"), context: 256);
    }

    public void Dispose() => dir.Dispose();

    private static string Fixture(string name) => Fixtures.Path("parquet", name);

    private static string Ok(params string[] args)
    {
        var (code, output, error) = CliRun.Separate(args);
        Assert.True(code == 0, error + output);
        return output.Replace("\r", "");
    }

    /// <summary>`data inspect --json` of the file, with its path replaced so that the twins compare.</summary>
    private static JsonElement Inspect(string path, string model, params string[] extra)
    {
        string output = Ok(["data", "inspect", "--dataset", path, "--model", model, "--json", .. extra]);
        return JsonDocument.Parse(output.Replace(JsonEncodedText.Encode(path).ToString(), "DATA")).RootElement.Clone();
    }

    private static string WithoutLayout(JsonElement inspect)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(inspect.GetRawText())!.AsObject();
        node.Remove("layout");
        return node.ToJsonString();
    }

    [Theory]
    [InlineData("trl_preference", "reward")]
    [InlineData("trl_preference", "dpo")]
    [InlineData("hh_preference", "reward")]
    [InlineData("hh_preference", "ppo")]
    public void Inspect_reports_what_the_json_lines_twin_reports(string name, string task)
    {
        string model = name.StartsWith("trl", StringComparison.Ordinal) ? chatModel : plainModel;
        var parquet = Inspect(Fixture(name + ".parquet"), model, "--task", task);
        var jsonl = Inspect(Fixture(name + ".jsonl"), model, "--task", task);
        // Locations differ only in form: data.jsonl:4 is data.parquet:row 4.
        Assert.Equal(WithoutLayout(jsonl), WithoutLayout(parquet).Replace("DATA:row ", "DATA:"));
        Assert.Contains("\"rows\"", parquet.GetRawText());
    }

    [Theory]
    [InlineData("trl_preference", "pairs")]
    [InlineData("hh_preference", "sft")]
    [InlineData("hh_preference", "pairs")]
    public void Convert_writes_the_same_rendered_rows_as_the_json_lines_twin(string name, string to)
    {
        string model = name.StartsWith("trl", StringComparison.Ordinal) ? chatModel : plainModel;
        string fromParquet = dir.Sub($"{name}-{to}-parquet.jsonl"), fromJsonl = dir.Sub($"{name}-{to}-jsonl.jsonl");
        Ok("data", "convert", "--dataset", Fixture(name + ".parquet"), "--model", model, "--to", to, "--output", fromParquet);
        Ok("data", "convert", "--dataset", Fixture(name + ".jsonl"), "--model", model, "--to", to, "--output", fromJsonl);
        string written = File.ReadAllText(fromJsonl);
        Assert.True(written.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 4, written);
        Assert.Equal(written, File.ReadAllText(fromParquet));
    }

    [Fact]
    public void Dpo_trains_on_a_parquet_dataset()
    {
        string output = Ok("dpo", "--model", chatModel, "--dataset", Fixture("trl_preference.parquet"), "--output", dir.Sub("dpo"),
            "--max-steps", "1", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1");
        Assert.True(File.Exists(Path.Combine(dir.Sub("dpo"), "model.safetensors")), output);
        string twin = Ok("dpo", "--model", chatModel, "--dataset", Fixture("trl_preference.jsonl"), "--output", dir.Sub("dpo-jsonl"),
            "--max-steps", "1", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1");
        // The same data report (kept rows, drops) in both runs.
        static string Report(string text) => string.Join('\n', text.Split('\n').Where(l => l.Contains("rows") || l.Contains("kept")));
        Assert.Equal(Report(twin).Replace(Fixture("trl_preference.jsonl"), "DATA"), Report(output).Replace(Fixture("trl_preference.parquet"), "DATA"));
    }

    [Fact]
    public void Row_errors_name_the_parquet_row()
    {
        // Conversational rows need a chat template: the error names the first row.
        var (code, output, error) = CliRun.Separate("reward", "--model", plainModel, "--dataset", Fixture("trl_preference.parquet"), "--output", dir.Sub("rm"),
            "--max-steps", "1", "--per-device-train-batch-size", "2");
        Assert.NotEqual(0, code);
        string oneLine = string.Concat((error + output).Where(c => !char.IsWhiteSpace(c)));
        Assert.Contains(string.Concat($"{Fixture("trl_preference.parquet")}:row 1".Where(c => !char.IsWhiteSpace(c))), oneLine);
    }

    [Fact]
    public void A_file_that_is_not_parquet_names_the_file()
    {
        string path = dir.Sub("train.parquet");
        File.Copy(Fixture("hh_preference.jsonl"), path);
        var (code, output, error) = CliRun.Separate("data", "inspect", "--dataset", path, "--model", plainModel);
        Assert.NotEqual(0, code);
        Assert.Contains($"{path}: not a Parquet file", string.Join(' ', (error + output).Split((char[])['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)));
    }

    // HuggingFaceH4/ultrafeedback_binarized's layout (a string prompt beside chosen and rejected conversations that repeat
    // it): row counts, and pairs rendered as tools/reference/trl_extract_prompt.py (TRL's maybe_extract_prompt +
    // apply_chat_template, jinja2) renders them.
    private static void AssertStep(string output, string step, int count) =>
        Assert.Matches(new Regex($@"^\s+{Regex.Escape(step)}\s+{count}\b", RegexOptions.Multiline), output);

    [Theory]
    [InlineData("ultrafeedback_prefs.parquet")]
    [InlineData("ultrafeedback_prefs.jsonl")]
    public void Dpo_trains_on_the_rows_and_counts_them(string file)
    {
        string output = Ok("dpo", "--model", chatModel, "--dataset", Fixture(file), "--output", dir.Sub("dpo-" + file),
            "--max-steps", "1", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1");
        Assert.True(File.Exists(Path.Combine(dir.Sub("dpo-" + file), "model.safetensors")), output);
        // 8 rows read; rows 3, 4, 6 and 7 hold two user turns in chosen or rejected (the single-turn step); all 4 fit.
        AssertStep(output, "read", 8);
        AssertStep(output, "single-turn", 4);
        AssertStep(output, "length", 4);
    }

    [Theory]
    [InlineData("ultrafeedback_prefs.parquet")]
    [InlineData("ultrafeedback_prefs.jsonl")]
    public void Convert_writes_trls_rendered_pairs(string file)
    {
        string pairs = dir.Sub("pairs-" + file + ".jsonl");
        Ok("data", "convert", "--dataset", Fixture(file), "--model", chatModel, "--to", "pairs", "--no-single-turn", "--output", pairs);
        var written = File.ReadAllLines(pairs).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixture("ultrafeedback_prefs.expected.json")));
        var rows = expected.RootElement.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal(rows.Length, written.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            var want = rows[i].GetProperty("rendered").GetProperty("chatml");
            foreach (string field in new[] { "prompt", "chosen", "rejected" })
                Assert.Equal(want.GetProperty(field).GetString(), written[i].GetProperty(field).GetString());
        }
    }
}
