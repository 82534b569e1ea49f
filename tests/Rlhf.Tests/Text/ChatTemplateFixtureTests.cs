// Chat templates rendered byte for byte as @huggingface/jinja (transformers.js's engine, transformers' settings)
// renders them: tools/reference/chat_template_fixtures.mjs wrote tests/fixtures/chat_templates/expected.json.
using System.Text.Json;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Text.Templates;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class ChatTemplateFixtureTests
{
    /// <summary>The fixture's clock: strftime_now saw 2025-03-09 14:05:07.</summary>
    private static readonly DateTime FixtureClock = new(2025, 3, 9, 14, 5, 7);

    private static JsonDocument Read(string name) => JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat_templates", name)));

    public static TheoryData<string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, bool>();
        using var expected = Read("expected.json");
        foreach (var c in expected.RootElement.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    private static ChatTemplate Template(string name)
    {
        using var templates = Read("templates.json");
        var spec = templates.RootElement.GetProperty(name);
        var tokens = new Dictionary<string, string>();
        foreach (string key in new[] { "bos_token", "eos_token" })
            if (spec.GetProperty(key).ValueKind == JsonValueKind.String) tokens[key] = spec.GetProperty(key).GetString()!;
        return new ChatTemplate(spec.GetProperty("template").GetString()!, name, tokens);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_exactly_as_the_reference(string template, string conversation, bool addGenerationPrompt)
    {
        using var conversations = Read("conversations.json");
        var messages = ChatMessage.ParseList(conversations.RootElement.GetProperty(conversation), conversation);
        using var expected = Read("expected.json");
        var entry = expected.RootElement.GetProperty("cases").EnumerateArray().Single(c =>
            c.GetProperty("template").GetString() == template && c.GetProperty("conversation").GetString() == conversation
            && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);

        var chat = Template(template);
        if (entry.TryGetProperty("error", out var error))
        {
            // The reference raised (raise_exception): so must we, with the template's own message and its line.
            var thrown = Assert.Throws<TemplateException>(() => chat.Render(messages, addGenerationPrompt, FixtureClock));
            Assert.Contains(error.GetString()!, thrown.Message);
            Assert.Contains($"Template '{template}' line ", thrown.Message);
            return;
        }
        // Byte-exact: a prompt one character off is a different prompt (PITFALLS 18).
        Assert.Equal(entry.GetProperty("text").GetString(), chat.Render(messages, addGenerationPrompt, FixtureClock));
    }
}
