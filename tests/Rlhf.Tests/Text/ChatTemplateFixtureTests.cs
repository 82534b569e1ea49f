// Chat templates rendered byte for byte as two independent engines render them in transformers' settings:
// Python's jinja2 in transformers' sandbox (tools/reference/chat_template_jinja2.py -> expected_jinja2.json) and
// @huggingface/jinja, transformers.js's engine (tools/reference/chat_template_fixtures.mjs -> expected.json).
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
    public void Renders_exactly_as_both_references(string template, string conversation, bool addGenerationPrompt)
    {
        using var conversations = Read("conversations.json");
        var messages = ChatMessage.ParseList(conversations.RootElement.GetProperty(conversation), conversation);
        var chat = Template(template);
        foreach (string file in new[] { "expected_jinja2.json", "expected.json" })
        {
            using var expected = Read(file);
            var entry = expected.RootElement.GetProperty("cases").EnumerateArray().Single(c =>
                c.GetProperty("template").GetString() == template && c.GetProperty("conversation").GetString() == conversation
                && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
            if (entry.TryGetProperty("error", out var error))
            {
                // The reference raised (raise_exception): so must we, with the template's own message and its line.
                var thrown = Assert.Throws<TemplateException>(() => chat.Render(messages, addGenerationPrompt, FixtureClock));
                Assert.Contains(error.GetString()!, thrown.Message);
                Assert.Contains($"Template '{template}' line ", thrown.Message);
                continue;
            }
            // Byte-exact: a prompt one character off is a different prompt (PITFALLS 18).
            Assert.Equal(entry.GetProperty("text").GetString(), chat.Render(messages, addGenerationPrompt, FixtureClock));
        }
    }

    public static TheoryData<string> EngineCases()
    {
        var data = new TheoryData<string>();
        using var cases = Read("engine_cases.json");
        foreach (var c in cases.RootElement.EnumerateObject()) data.Add(c.Name);
        return data;
    }

    /// <summary>The Jinja constructs one at a time (filters, tests, loops, scoping, slicing, str methods, Python's
    /// printing of None/True/lists), against jinja2 as transformers configures it.</summary>
    [Theory]
    [MemberData(nameof(EngineCases))]
    public void Engine_case_matches_jinja2(string name)
    {
        using var cases = Read("engine_cases.json");
        var spec = cases.RootElement.GetProperty(name);
        var template = JinjaTemplate.Parse(spec.GetProperty("template").GetString()!, name);
        var variables = spec.GetProperty("context").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        using var expected = Read("expected_jinja2.json");
        var entry = expected.RootElement.GetProperty("engine_cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        if (entry.TryGetProperty("error", out var error))
        {
            var thrown = Assert.Throws<TemplateException>(() => template.Render(variables, FixtureClock));
            Assert.Contains(error.GetString()!, thrown.Message);
            return;
        }
        Assert.Equal(entry.GetProperty("text").GetString(), template.Render(variables, FixtureClock));
    }
}
