// Preference rows in HuggingFaceH4/ultrafeedback_binarized's layout (a string prompt beside conversations that repeat it)
// and the implicit-prompt form, read as TRL's maybe_extract_prompt + apply_chat_template read them, against
// tools/reference/trl_extract_prompt.py (an independent Python reading of TRL, rendered by jinja2): the text level, the
// pipeline over the JSON Lines and Parquet twins, and the public Datasets API.
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class UltrafeedbackPreferenceTests
{
    private static readonly DateTime Clock = new(2025, 3, 9, 14, 5, 7); // chat_template_jinja2.py's clock (llama3_style dates its header)

    private static JsonDocument Json(params string[] path) => JsonDocument.Parse(File.ReadAllText(Fixtures.Path(path)));

    private static JsonElement[] ExpectedRows()
    {
        using var expected = Json("parquet", "ultrafeedback_prefs.expected.json");
        return [.. expected.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.Clone())];
    }

    private static ChatTemplate Template(string name)
    {
        using var templates = Json("chat_templates", "templates.json");
        var spec = templates.RootElement.GetProperty(name);
        var tokens = new Dictionary<string, string>();
        foreach (string key in new[] { "bos_token", "eos_token" })
            if (spec.GetProperty(key).ValueKind == JsonValueKind.String) tokens[key] = spec.GetProperty(key).GetString()!;
        return new ChatTemplate(spec.GetProperty("template").GetString()!, name, tokens);
    }

    public static TheoryData<string> Templates()
    {
        using var templates = Json("chat_templates", "templates.json");
        var data = new TheoryData<string>();
        foreach (var t in templates.RootElement.EnumerateObject()) data.Add(t.Name);
        return data;
    }

    private static List<ChatMessage> Messages(JsonElement list) => ChatMessage.ParseList(list, "fixture");

    private static DataRow[] JsonlRows() => [.. DataRowReader.Read(Fixtures.Path("parquet", "ultrafeedback_prefs.jsonl"))];

    [Theory]
    [MemberData(nameof(Templates))]
    public void Rows_render_as_trl_renders_them(string name)
    {
        var template = Template(name);
        var rows = JsonlRows();
        var expected = ExpectedRows();
        Assert.Equal(8, rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            // The string prompt is not a message list, so TRL extracts the prompt from chosen and rejected.
            Assert.Equal(JsonValueKind.String, rows[i].Value.GetProperty("prompt").ValueKind);
            Assert.Null(DataFormats.ListPrompt(rows[i]));
            var chosen = Messages(rows[i].Value.GetProperty("chosen"));
            var rejected = Messages(rows[i].Value.GetProperty("rejected"));
            var (p, c, r) = ChatRendering.SplitPrompt(null, chosen, rejected);
            Assert.Equal(Messages(expected[i].GetProperty("prompt")), p);
            Assert.Equal(Messages(expected[i].GetProperty("chosen")), c);
            Assert.Equal(Messages(expected[i].GetProperty("rejected")), r);

            var want = expected[i].GetProperty("rendered").GetProperty(name);
            var pair = ChatRendering.Preference(template, null, chosen, rejected, Clock);
            Assert.Equal(want.GetProperty("prompt").GetString(), pair.Prompt);
            Assert.Equal(want.GetProperty("chosen").GetString(), pair.Chosen);
            Assert.Equal(want.GetProperty("rejected").GetString(), pair.Rejected);
        }
    }

    [Theory]
    [InlineData("ultrafeedback_prefs.jsonl")]
    [InlineData("ultrafeedback_prefs.parquet")]
    public void The_pipeline_gives_trls_pairs_from_both_twins(string file)
    {
        string path = Fixtures.Path("parquet", file);
        var options = new DataPipelineOptions { ChatTemplate = Template("chatml"), Eos = "<|im_end|>", Task = DataTask.Dpo, SingleTurnOnly = false };
        var (examples, report) = PreferencePipeline.Run(path, options);
        var expected = ExpectedRows();
        Assert.Equal(expected.Length, examples.Count);
        Assert.Equal(8, report.CountAfter("read"));
        for (int i = 0; i < expected.Length; i++)
        {
            var want = expected[i].GetProperty("rendered").GetProperty("chatml");
            Assert.Equal(want.GetProperty("prompt").GetString(), examples[i].Prompt);
            Assert.Equal(want.GetProperty("chosen").GetString(), examples[i].Chosen);
            Assert.Equal(want.GetProperty("rejected").GetString(), examples[i].Rejected);
            Assert.True(examples[i].ChatRendered);
        }
        // With the default single-turn step, rows with two user turns in chosen or rejected (3, 4, 6, 7) drop out.
        var singleTurn = PreferencePipeline.Run(path, options with { SingleTurnOnly = true });
        Assert.Equal([8, 4], [singleTurn.Report.CountAfter("read"), singleTurn.Report.CountAfter("single-turn")]);
    }

    [Theory]
    [InlineData("ultrafeedback_prefs.jsonl")]
    [InlineData("ultrafeedback_prefs.parquet")]
    public void The_datasets_api_reads_the_rows_with_the_conversations_prompt(string file)
    {
        // No model, so no chat template: the prompt messages are flattened into the default template, the answers are
        // the completions' last messages. Rows 3, 4, 6 and 7 are multi-turn and left out, as by `rlhf dpo`.
        var pairs = Datasets.ReadPreferences(Fixtures.Path("parquet", file));
        Assert.Equal(
            [
                new PreferenceExample("### Question: What do bees make?\n### Answer: ", "Honey and beeswax.", "Cars."),
                // Not the row's string prompt ("A prompt that is not the user turn."): TRL does not read it.
                new PreferenceExample("### Question: Name a primary colour.\n### Answer: ", "Red.", "Purple, probably."),
                new PreferenceExample("### Question: Same?\n### Answer: ", "Same.", "Same."),
                new PreferenceExample("### Question: Écris « merci » en japonais.\n### Answer: ", "ありがとう", "Danke."),
            ],
            pairs);
    }

    [Theory]
    [InlineData("""{"prompt": "Q", "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], "rejected": [{"role": "user", "content": "Other"}, {"role": "assistant", "content": "B"}]}""", "share no leading messages")]
    [InlineData("""{"prompt": "Q", "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "A"}]}""", "nothing to compare")]
    [InlineData("""{"prompt": "Q", "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], "rejected": []}""", "field 'rejected' has no messages")]
    public void Rows_trl_cannot_split_are_errors_naming_the_row(string row, string message)
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("bad.jsonl", """{"prompt": "Fine", "chosen": [{"role": "user", "content": "Fine"}, {"role": "assistant", "content": "Yes"}], "rejected": [{"role": "user", "content": "Fine"}, {"role": "assistant", "content": "No"}]}""" + "\n" + row + "\n");
        foreach (var options in new[] { new DataPipelineOptions { ChatTemplate = Template("chatml"), Task = DataTask.Dpo }, new DataPipelineOptions { FlattenMessages = true, Task = DataTask.Dpo } })
        {
            var error = Assert.Throws<DataFormatException>(() => PreferencePipeline.Run(path, options));
            Assert.StartsWith($"{path}:2: ", error.Message);
            Assert.Contains(message, error.Message);
        }
    }

    [Fact]
    public void A_prompt_list_is_kept_as_given()
    {
        // Both conversational: maybe_extract_prompt leaves the row alone, even when chosen repeats the prompt.
        DataRow row = new("p.jsonl", 1, false, JsonDocument.Parse(
            """{"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "B"}]}""").RootElement.Clone());
        var pair = ConversationalRows.RenderPreference(row, ConversationalRows.RawPreference(row), Template("chatml"));
        Assert.Equal(("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "A<|im_end|>\n", "B<|im_end|>\n"), (pair.Prompt, pair.Chosen, pair.Rejected));
    }
}
