// `rlhf data inspect --model DIR` shows the first conversational row rendered with the folder's chat template.
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class DataInspectChatTests : IDisposable
{
    private const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    private readonly TempDirectory dir = new();
    private readonly string model;

    public DataInspectChatTests()
    {
        model = TinyModels.Create(dir.Sub("model"));
        string configPath = Path.Combine(model, ChatTemplate.ConfigFileName);
        var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath))!.AsObject() : [];
        config["chat_template"] = ChatMl;
        File.WriteAllText(configPath, config.ToJsonString());
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
