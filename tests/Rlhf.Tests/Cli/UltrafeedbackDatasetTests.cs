// `rlhf dpo` / `rlhf data convert` on HuggingFaceH4/ultrafeedback_binarized's layout (a string prompt beside chosen and
// rejected conversations that repeat it), in Parquet and its JSON Lines twin: the row counts, and the pairs rendered as
// tools/reference/trl_extract_prompt.py (TRL's maybe_extract_prompt + apply_chat_template, jinja2) renders them.
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class UltrafeedbackDatasetTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string chatModel;

    public UltrafeedbackDatasetTests() =>
        chatModel = TinyModels.WithChatTemplate(TinyModels.Create(dir.Sub("chat"), context: 256), TinyModels.ChatMl);

    public void Dispose() => dir.Dispose();

    private static string Fixture(string name) => Fixtures.Path("parquet", name);

    private static string Ok(params string[] args)
    {
        var (code, output, error) = CliRun.Separate(args);
        Assert.True(code == 0, error + output);
        return output.Replace("\r", "");
    }

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
