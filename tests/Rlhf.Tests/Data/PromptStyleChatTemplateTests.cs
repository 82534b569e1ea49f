// The prompt story with a chat template: a folder whose tokenizer_config.json has one renders prompts through it
// (the user turn with the generation prompt); --template and --raw still override it; a folder without one keeps
// the ### Question/Answer template.
using System.Text.Json.Nodes;
using Rlhf.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Data;

public class PromptStyleChatTemplateTests
{
    private const string ChatMl =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    [Fact]
    public void AFolderWithAChatTemplateRendersPromptsThroughIt()
    {
        using var dir = new TempDirectory();
        string model = TinyModels.Create(dir.Sub("model"));
        string configPath = Path.Combine(model, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["chat_template"] = ChatMl;
        File.WriteAllText(configPath, config.ToJsonString());

        var style = PromptStyle.Resolve(null, raw: false, model);
        Assert.Equal(PromptStyle.Source.ChatTemplate, style.Kind);
        Assert.Equal("<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n", style.Render("How are you?"));
        Assert.Equal("How are you?", PromptStyle.Resolve(null, raw: true, model).Render("How are you?"));
        Assert.Equal("Q: How are you?\nA: ", PromptStyle.Resolve("Q: {instruction}\\nA: ", raw: false, model).Render("How are you?"));
    }

    [Fact]
    public void AFolderWithoutOneKeepsTheQuestionAnswerTemplate()
    {
        using var dir = new TempDirectory();
        string model = TinyModels.Create(dir.Sub("model"));
        var style = PromptStyle.Resolve(null, raw: false, model);
        Assert.Equal(PromptStyle.Source.Template, style.Kind);
        Assert.Equal("### Question: How are you?\n### Answer: ", style.Render("How are you?"));
    }
}
