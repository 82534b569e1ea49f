// `rlhf data inspect --model DIR` shows the first conversational row rendered with the folder's chat template.
using System.Text.Json;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class DataInspectChatTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;

    public DataInspectChatTests()
    {
        model = TinyModels.WithChatTemplate(TinyModels.Create(dir.Sub("model")), TinyModels.ChatMl);
    }

    public void Dispose() => dir.Dispose();

    private List<(string Label, string Text, bool Trained)> Pieces(string rows)
    {
        string path = dir.Sub("data.jsonl");
        File.WriteAllText(path, rows + "\n");
        var (code, output, error) = CliRun.Separate("data", "inspect", "--dataset", path, "--model", model, "--json");
        Assert.True(code == 0, error);
        var example = JsonDocument.Parse(output).RootElement.GetProperty("chat_example");
        return [.. example.GetProperty("pieces").EnumerateArray().Select(p => (p.GetProperty("label").GetString()!, p.GetProperty("text").GetString()!, p.GetProperty("trained").GetBoolean()))];
    }

    [Fact]
    public void Messages_rows_train_on_assistant_turns_only()
    {
        var pieces = Pieces("""{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}""");
        Assert.Equal(
            [("context", "<|im_start|>user\nHi<|im_end|>\n", false), ("context", "<|im_start|>assistant\n", false), ("trained", "Hello!<|im_end|>\n", true)],
            pieces);
    }

    [Fact]
    public void Implicit_prompt_preferences_split_at_the_shared_messages()
    {
        var pieces = Pieces("""{"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}], "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "bad"}]}""");
        Assert.Equal(
            [("prompt", "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", false), ("chosen", "good<|im_end|>\n", true), ("rejected", "bad<|im_end|>\n", true)],
            pieces);
    }
}
