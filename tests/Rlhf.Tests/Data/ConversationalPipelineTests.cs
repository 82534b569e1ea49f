// Conversational rows (TRL's message lists) through the SFT and preference pipelines with a chat template: what is
// trained, what the prompt is, no EOS id after a template's end of turn, and the errors that name the row.
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Text;
using Rlhf.Training.Sft;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class ConversationalPipelineTests
{
    private static readonly ChatTemplate Template = new(Rlhf.Tests.Support.TinyModels.ChatMl, "chatml");

    /// <summary>One id per character, so lengths are exact and an appended EOS id (<see cref="Eos"/>) would show.</summary>
    private sealed class CharEncoder : ITextEncoder
    {
        public int[] Encode(string text) => [.. text.Select(c => (int)c)];
    }

    private const int Eos = 7;

    private static DataPipelineOptions Chat(DataTask task) => new()
    {
        ChatTemplate = Template, Eos = "<|im_end|>", EosTokenId = Eos, Encoder = new CharEncoder(), Task = task,
        MaxLength = 4096, MaxPromptLength = 2048, SingleTurnOnly = false,
    };

    private static string Msg(string role, string content) => JsonSerializer.Serialize(new { role, content });

    [Fact]
    public void Sft_messages_train_on_assistant_turns_up_to_their_end_of_turn()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("sft.jsonl", $"{{\"messages\":[{Msg("system", "Be brief.")},{Msg("user", "Hi")},{Msg("assistant", "Hello!")},{Msg("user", "2+2?")},{Msg("assistant", "4")}]}}\n");
        var (examples, report) = SftPipeline.Run(path, Chat(DataTask.Sft));
        var example = Assert.Single(examples);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", example.Instruction);
        Assert.Equal(
            [new ChatTurn("Hello!<|im_end|>", true), new ChatTurn("\n", false), new ChatTurn("<|im_start|>user\n2+2?<|im_end|>\n", false),
             new ChatTurn("<|im_start|>assistant\n", false), new ChatTurn("4<|im_end|>", true), new ChatTurn("\n", false)],
            example.Turns);
        // Instruction + Response is the template's rendering of the whole conversation.
        var messages = new[] { ChatMessage.System("Be brief."), ChatMessage.User("Hi"), ChatMessage.Assistant("Hello!"), ChatMessage.User("2+2?"), ChatMessage.Assistant("4") };
        Assert.Equal(Template.Render(messages, addGenerationPrompt: false), example.Instruction + example.Response);
        Assert.Equal(1, report.CountAfter("length"));

        // The SFT example's labels cover the trained pieces only, and no EOS id is appended.
        var sft = SftExample.FromPieces([1, 2], example.Turns!.Select(t => (new CharEncoder().Encode(t.Text), t.Trained)));
        var batch = SftCollator.Collate([sft], padTokenId: 0);
        string trained = new(batch.Targets.Where(t => t >= 0).Select(t => (char)t).ToArray());
        Assert.Equal("Hello!<|im_end|>4<|im_end|>", trained);
        Assert.DoesNotContain(Eos, batch.TokenIds);
    }

    [Fact]
    public void Sft_length_filter_counts_the_rendered_turns_without_an_eos_id()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("sft.jsonl", $"{{\"messages\":[{Msg("user", "Hi")},{Msg("assistant", "Hello!")}]}}\n");
        int prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n".Length, response = "Hello!<|im_end|>\n".Length;
        Assert.Single(SftPipeline.Run(path, Chat(DataTask.Sft) with { MaxLength = prompt + response, MaxPromptLength = prompt }).Examples);
        Assert.Empty(SftPipeline.Run(path, Chat(DataTask.Sft) with { MaxLength = prompt + response - 1, MaxPromptLength = prompt }).Examples);
    }

    [Fact]
    public void Sft_prompt_completion_lists_train_on_the_completion()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("pc.jsonl", $"{{\"prompt\":[{Msg("user", "Q")}],\"completion\":[{Msg("assistant", "A")}]}}\n");
        var example = Assert.Single(SftPipeline.Run(path, Chat(DataTask.Sft)).Examples);
        Assert.Equal("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", example.Instruction);
        Assert.Equal([new ChatTurn("A<|im_end|>\n", true)], example.Turns);
    }

    [Fact]
    public void Sft_multi_turn_rows_are_dropped_by_the_single_turn_step_and_rows_without_an_assistant_turn_by_extract()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("sft.jsonl", string.Join("\n",
            $"{{\"messages\":[{Msg("user", "a")},{Msg("assistant", "b")},{Msg("user", "c")},{Msg("assistant", "d")}]}}",
            $"{{\"messages\":[{Msg("user", "only a question")}]}}",
            $"{{\"messages\":[{Msg("user", "a")},{Msg("assistant", "b")}]}}") + "\n");
        var (examples, report) = SftPipeline.Run(path, Chat(DataTask.Sft) with { SingleTurnOnly = true });
        Assert.Single(examples);
        Assert.Equal(1, report.Dropped(DropReasons.MultiTurn));
        Assert.Equal(1, report.Dropped(DropReasons.NoAssistantTurn));
    }

    [Fact]
    public void Preferences_with_an_implicit_prompt_split_at_the_shared_messages()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("p.jsonl",
            $"{{\"chosen\":[{Msg("user", "Q")},{Msg("assistant", "good")}],\"rejected\":[{Msg("user", "Q")},{Msg("assistant", "bad")}],\"margin\":1.5}}\n");
        var pair = Assert.Single(PreferencePipeline.Run(path, Chat(DataTask.Dpo)).Examples);
        Assert.Equal(new PreferencePair("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "good<|im_end|>\n", "bad<|im_end|>\n", 1.5f) { ChatRendered = true }, pair);
    }

    [Fact]
    public void Preferences_with_an_explicit_prompt_keep_it_and_multi_turn_prompts_follow_the_single_turn_rule()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("p.jsonl", string.Join("\n",
            $"{{\"prompt\":[{Msg("system", "S")},{Msg("user", "Q")}],\"chosen\":[{Msg("assistant", "good")}],\"rejected\":[{Msg("assistant", "bad")}]}}",
            $"{{\"prompt\":[{Msg("user", "a")},{Msg("assistant", "b")},{Msg("user", "c")}],\"chosen\":[{Msg("assistant", "x")}],\"rejected\":[{Msg("assistant", "y")}]}}") + "\n");
        var (pairs, report) = PreferencePipeline.Run(path, Chat(DataTask.Reward) with { SingleTurnOnly = true });
        var pair = Assert.Single(pairs);
        Assert.Equal("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", pair.Prompt);
        Assert.Equal(("good<|im_end|>\n", "bad<|im_end|>\n"), (pair.Chosen, pair.Rejected));
        Assert.Equal(1, report.Dropped(DropReasons.MultiTurn));
    }

    [Fact]
    public void Reward_lengths_are_whole_rendered_texts_without_an_eos_id()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("p.jsonl", $"{{\"chosen\":[{Msg("user", "Q")},{Msg("assistant", "good")}],\"rejected\":[{Msg("user", "Q")},{Msg("assistant", "no")}]}}\n");
        int whole = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\ngood<|im_end|>\n".Length;
        Assert.Single(PreferencePipeline.Run(path, Chat(DataTask.Reward) with { MaxLength = whole, MaxPromptLength = 10 }).Examples);
        Assert.Empty(PreferencePipeline.Run(path, Chat(DataTask.Reward) with { MaxLength = whole - 1, MaxPromptLength = 10 }).Examples);
    }

    [Fact]
    public void Let_me_explain_rewrites_the_assistant_answer_inside_the_template()
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("p.jsonl", $"{{\"chosen\":[{Msg("user", "Q")},{Msg("assistant", "It is so.")}],\"rejected\":[{Msg("user", "Q")},{Msg("assistant", "No.")}]}}\n");
        var pair = Assert.Single(PreferencePipeline.Run(path, Chat(DataTask.Dpo) with { LetMeExplain = true }).Examples);
        Assert.Equal(("Let me explain. It is so.<|im_end|>\n", "It is so.<|im_end|>\n"), (pair.Chosen, pair.Rejected));
    }

    [Fact]
    public void Conversational_rows_without_a_chat_template_are_an_error_naming_the_row_unless_flattened_on_purpose()
    {
        using var tmp = new DataTempFolder();
        string sft = tmp.Write("sft.jsonl", $"{{\"instruction\":\"i\",\"response\":\"r\"}}\n{{\"messages\":[{Msg("user", "U")},{Msg("assistant", "V")}]}}\n");
        var error = Assert.Throws<DataFormatException>(() => SftPipeline.Run(sft, new DataPipelineOptions { Task = DataTask.Sft }));
        Assert.Contains($"{sft}:2", error.Message);
        Assert.Contains("no chat template", error.Message);
        Assert.Equal(new InstructionExample("### Question: U\n### Answer: ", "V<|endoftext|>"),
            SftPipeline.Run(sft, new DataPipelineOptions { Task = DataTask.Sft, FlattenMessages = true }).Examples[1]);

        string pairs = tmp.Write("p.jsonl", $"{{\"chosen\":[{Msg("user", "Q")},{Msg("assistant", "A")}],\"rejected\":[{Msg("user", "Q")},{Msg("assistant", "B")}]}}\n");
        error = Assert.Throws<DataFormatException>(() => PreferencePipeline.Run(pairs, new DataPipelineOptions()));
        Assert.Contains($"{pairs}:1", error.Message);
        Assert.Contains("chat_template", error.Message);
    }

    [Theory]
    [InlineData("{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}", "unknown role 'robot'")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":[1]},{\"role\":\"assistant\",\"content\":\"y\"}]}", "'content' must be a string")]
    [InlineData("{\"chosen\":[{\"role\":\"user\",\"content\":\"a\"}],\"rejected\":[{\"role\":\"user\",\"content\":\"b\"}]}", "share no leading messages")]
    [InlineData("{\"chosen\":[{\"role\":\"user\",\"content\":\"a\"}],\"rejected\":[{\"role\":\"user\",\"content\":\"a\"}]}", "nothing to compare")]
    public void Bad_conversations_name_the_row(string row, string message)
    {
        using var tmp = new DataTempFolder();
        string path = tmp.Write("bad.jsonl", row + "\n");
        var error = Assert.Throws<DataFormatException>(() =>
        {
            if (row.Contains("messages")) SftPipeline.Run(path, Chat(DataTask.Sft));
            else PreferencePipeline.Run(path, Chat(DataTask.Dpo));
        });
        Assert.Contains($"{path}:1", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Ppo_prompts_as_message_lists_render_with_the_generation_prompt()
    {
        DataRow Row(string json) => new("p.jsonl", 1, false, JsonDocument.Parse(json).RootElement.Clone());
        var explicitPrompt = ConversationalRows.Prompt(Row($"{{\"prompt\":[{Msg("system", "S")},{Msg("user", "What is 2+3?")}]}}"), Template);
        Assert.Equal(("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n", "What is 2+3?"), explicitPrompt);
        var implicitPrompt = ConversationalRows.Prompt(Row($"{{\"chosen\":[{Msg("user", "Q")},{Msg("assistant", "A")}],\"rejected\":[{Msg("user", "Q")},{Msg("assistant", "B")}]}}"), Template);
        Assert.Equal(("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "Q"), implicitPrompt);
        Assert.Null(ConversationalRows.Prompt(Row("{\"prompt\":\"plain\"}"), Template));
        var error = Assert.Throws<DataFormatException>(() => ConversationalRows.Prompt(Row($"{{\"prompt\":[{Msg("user", "Q")}]}}"), null));
        Assert.Contains("p.jsonl:1", error.Message);
        Assert.Contains("no chat template", error.Message);
    }
}
