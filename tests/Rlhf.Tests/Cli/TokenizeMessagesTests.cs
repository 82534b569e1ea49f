// `rlhf tokenize --messages`: a conversation rendered with the folder's chat template, as text or {"text", "ids"}.
using System.Text.Json;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class TokenizeMessagesTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string messages;

    public TokenizeMessagesTests()
    {
        model = TinyModels.WithChatTemplate(TinyModels.Create(dir.Sub("model")), TinyModels.FixtureChatTemplate("smollm2"));
        messages = dir.Sub("messages.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "What do bees make?"}, {"role": "assistant", "content": "Honey."}, {"role": "user", "content": "And?"}]""");
    }

    public void Dispose() => dir.Dispose();

    /// <summary>The error as one line (the console may wrap it at its width).</summary>
    private static string OneLine(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    private const string Expected =
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        + "<|im_start|>user\nWhat do bees make?<|im_end|>\n<|im_start|>assistant\nHoney.<|im_end|>\n<|im_start|>user\nAnd?<|im_end|>\n";

    [Fact]
    public void Prints_the_rendered_text_exactly()
    {
        var (code, output, _) = CliRun.Separate("tokenize", "--model", model, "--messages", messages);
        Assert.Equal(0, code);
        Assert.Equal(Expected + "<|im_start|>assistant\n", output);
        var (code2, output2, _) = CliRun.Separate("tokenize", "--model", model, "--messages", messages, "--no-generation-prompt");
        Assert.Equal(0, code2);
        Assert.Equal(Expected, output2);
    }

    [Fact]
    public void Json_holds_the_text_and_its_ids()
    {
        var (code, output, _) = CliRun.Separate("tokenize", "--model", model, "--messages", messages, "--json");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(output).RootElement;
        string text = root.GetProperty("text").GetString()!;
        Assert.Equal(Expected + "<|im_start|>assistant\n", text);
        Assert.Equal(BpeTokenizer.FromFolder(model).Encode(text), root.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()));
    }

    [Fact]
    public void Bad_messages_and_folders_without_templates_are_one_line_errors()
    {
        File.WriteAllText(dir.Sub("bad.json"), """[{"role": "narrator", "content": "x"}]""");
        var (code, output) = CliRun.Combined("tokenize", "--model", model, "--messages", dir.Sub("bad.json"));
        Assert.Equal(1, code);
        Assert.Contains("bad.json: message 1 has the unknown role 'narrator'", OneLine(output));

        string plain = TinyModels.Create(dir.Sub("plain"));
        (code, output) = CliRun.Combined("tokenize", "--model", plain, "--messages", messages);
        Assert.Equal(1, code);
        Assert.Contains("has no chat template", OneLine(output));

        (code, output) = CliRun.Combined("tokenize", "--model", model, "--text", "x", "--no-generation-prompt");
        Assert.Equal(1, code);
        Assert.Contains("--no-generation-prompt applies to --messages only", OneLine(output));
    }
}
