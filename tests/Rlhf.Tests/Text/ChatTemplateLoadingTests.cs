// Finding a folder's chat template (tokenizer_config.json string or named list, chat_template.jinja) and the errors
// for templates and message lists that cannot be rendered.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Text.Templates;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class ChatTemplateLoadingTests : IDisposable
{
    private const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    private static readonly ChatMessage[] Hello = [ChatMessage.User("Hi")];

    private void WriteConfig(string json) => File.WriteAllText(folder.Sub(ChatTemplate.ConfigFileName), json);

    [Fact]
    public void A_folder_without_a_template_has_none()
    {
        Assert.Null(ChatTemplate.TryLoad(folder.Path));
        WriteConfig("""{"eos_token": "</s>"}""");
        Assert.Null(ChatTemplate.TryLoad(folder.Path));
    }

    [Fact]
    public void Reads_the_config_string_and_its_special_tokens()
    {
        WriteConfig(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["chat_template"] = "{{ bos_token }}" + ChatMl + "{{ eos_token }}",
            ["bos_token"] = new Dictionary<string, object> { ["content"] = "<s>", ["special"] = true },
            ["eos_token"] = "</s>",
        }));
        var chat = ChatTemplate.TryLoad(folder.Path)!;
        Assert.Equal("<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n</s>", chat.Render(Hello, addGenerationPrompt: true));
        Assert.Equal("<s><|im_start|>user\nHi<|im_end|>\n</s>", chat.Render(Hello, addGenerationPrompt: false));
    }

    [Fact]
    public void Unset_special_tokens_are_undefined_and_print_nothing()
    {
        WriteConfig(JsonSerializer.Serialize(new { chat_template = "[{{ bos_token }}]{{ bos_token is defined }}", bos_token = (string?)null }));
        Assert.Equal("[]False", ChatTemplate.TryLoad(folder.Path)!.Render(Hello, false));
    }

    [Fact]
    public void Named_templates_use_default_or_the_one_asked_for()
    {
        WriteConfig(JsonSerializer.Serialize(new
        {
            chat_template = new[] { new { name = "default", template = "D:{{ messages[0].content }}" }, new { name = "tool_use", template = "T" } },
        }));
        Assert.Equal("D:Hi", ChatTemplate.TryLoad(folder.Path)!.Render(Hello, false));
        Assert.Equal("T", ChatTemplate.TryLoad(folder.Path, "tool_use")!.Render(Hello, false));
        var missing = Assert.Throws<ModelFormatException>(() => ChatTemplate.TryLoad(folder.Path, "rag"));
        Assert.Contains("'rag'", missing.Message);
    }

    [Fact]
    public void Named_templates_without_a_default_say_which_exist()
    {
        WriteConfig(JsonSerializer.Serialize(new { chat_template = new[] { new { name = "tool_use", template = "T" } } }));
        var error = Assert.Throws<ModelFormatException>(() => ChatTemplate.TryLoad(folder.Path));
        Assert.Contains("tokenizer_config.json", error.Message);
        Assert.Contains("'tool_use'", error.Message);
    }

    [Fact]
    public void Chat_template_jinja_takes_precedence_over_the_config()
    {
        WriteConfig(JsonSerializer.Serialize(new { chat_template = "config", eos_token = "</s>" }));
        File.WriteAllText(folder.Sub(ChatTemplate.JinjaFileName), "file{{ eos_token }}\n");
        var chat = ChatTemplate.TryLoad(folder.Path)!;
        Assert.Equal("file</s>", chat.Render(Hello, false)); // the trailing newline of the file is dropped, as jinja2 does
        Assert.EndsWith(ChatTemplate.JinjaFileName, chat.Name);
    }

    [Fact]
    public void A_malformed_config_names_the_file()
    {
        WriteConfig("{ not json");
        Assert.Contains("tokenizer_config.json", Assert.Throws<ModelFormatException>(() => ChatTemplate.TryLoad(folder.Path)).Message);
        WriteConfig("""{"chat_template": 3}""");
        Assert.Contains("chat_template must be", Assert.Throws<ModelFormatException>(() => ChatTemplate.TryLoad(folder.Path)).Message);
    }

    [Theory]
    [InlineData("line 1\n{{ x | frobnicate }}", 2, "filter 'frobnicate' is not supported")]
    [InlineData("a\nb\n{% for m in messages %}{% call foo() %}{% endcall %}{% endfor %}", 3, "'{% call %}' is not supported")]
    [InlineData("{% if true %}\nunclosed", 2, "ends before '{% endif %}'")]
    [InlineData("{{ 'never closed }}", 1, "string literal is never closed")]
    [InlineData("\n\n{{ x is frobbed }}", 3, "test 'frobbed' is not supported")]
    [InlineData("{% raw %}x{% endraw %}", 1, "'{% raw %}' is not supported")]
    public void Unsupported_or_broken_templates_name_the_template_and_line(string source, int line, string message)
    {
        var error = Assert.Throws<TemplateException>(() =>
        {
            var chat = new ChatTemplate(source, "my-template");
            chat.Render(Hello, false);
        });
        Assert.Equal("my-template", error.TemplateName);
        Assert.Equal(line, error.Line);
        Assert.Contains(message, error.Message);
        Assert.StartsWith($"Template 'my-template' line {line}: ", error.Message);
    }

    [Theory]
    [InlineData("{{ messages[0].content.nothing.deeper }}", "'nothing' is undefined")]
    [InlineData("{{ messages[0].content + 1 }}", "unsupported operand types for +: 'str' and 'int'")]
    [InlineData("{% set x = messages.append(1) %}", "modifies its object")]
    [InlineData("{% set ns = 1 %}{% set ns.a = 2 %}", "only a namespace() takes attributes")]
    public void Runtime_errors_name_the_template_and_line(string source, string message)
    {
        var chat = new ChatTemplate("\n" + source, "t");
        var error = Assert.Throws<TemplateException>(() => chat.Render(Hello, false));
        Assert.Equal(2, error.Line);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Strftime_now_reads_the_given_clock()
    {
        var chat = new ChatTemplate("{{ strftime_now('%d %b %Y|%A %B|%H:%M:%S|%j') }}", "t");
        Assert.Equal("05 Jan 2026|Monday January|07:08:09|005", chat.Render(Hello, false, new DateTime(2026, 1, 5, 7, 8, 9)));
    }

    [Theory]
    [InlineData("""[{"role": "bot", "content": "x"}]""", "message 1 has the unknown role 'bot'")]
    [InlineData("""[{"role": "user", "content": "a"}, {"role": "assistant", "content": 3}]""", "message 2 (assistant) has a number \"content\"")]
    [InlineData("""[{"role": "user"}]""", "message 1 (user) has no \"content\"")]
    [InlineData("""[{"content": "x"}]""", "message 1 has no string \"role\"")]
    [InlineData("""{"role": "user"}""", "expected a list of messages, got an object")]
    [InlineData("""[]""", "the message list is empty")]
    public void Bad_message_lists_say_where_and_what(string json, string message)
    {
        using var doc = JsonDocument.Parse(json);
        var error = Assert.Throws<FormatException>(() => ChatMessage.ParseList(doc.RootElement, "data.jsonl row 7"));
        Assert.StartsWith("data.jsonl row 7: ", error.Message);
        Assert.Contains(message, error.Message);
    }
}
