// TRL's conversational rendering rules (prompt with add_generation_prompt, completion = the rest of the rendering,
// implicit prompts, assistant-only segments) against tools/reference/chat_template_jinja2.py's "trl_cases".
using System.Text.Json;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class ChatRenderingTests
{
    private static JsonDocument Read(string name) => JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat_templates", name)));

    public static TheoryData<string> Templates()
    {
        using var templates = Read("templates.json");
        var data = new TheoryData<string>();
        foreach (var t in templates.RootElement.EnumerateObject()) data.Add(t.Name);
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
    [MemberData(nameof(Templates))]
    public void Matches_trl_rules_rendered_by_jinja2(string name)
    {
        using var conversations = Read("conversations.json");
        var conversation = ChatMessage.ParseList(conversations.RootElement.GetProperty("system_multi_turn_ending_assistant"), "fixture");
        using var expected = Read("expected_jinja2.json");
        var entry = expected.RootElement.GetProperty("trl_cases").EnumerateArray().Single(c => c.GetProperty("template").GetString() == name);
        var template = Template(name);
        var clock = new DateTime(2025, 3, 9, 14, 5, 7); // the fixture's clock (llama3_style dates its header)

        var (prompt, completion) = ChatRendering.PromptCompletion(template, conversation[..^1], conversation[^1..], clock);
        Assert.Equal(entry.GetProperty("prompt").GetString(), prompt);
        Assert.Equal(entry.GetProperty("completion").GetString(), completion);

        var rejected = conversation[..^1].Append(ChatMessage.Assistant("Nope.")).ToList();
        var pair = ChatRendering.Preference(template, null, conversation, rejected, clock);
        Assert.Equal(entry.GetProperty("implicit_prompt").GetString(), pair.Prompt);
        Assert.Equal(entry.GetProperty("chosen").GetString(), pair.Chosen);
        Assert.Equal(entry.GetProperty("rejected").GetString(), pair.Rejected);

        var segments = ChatRendering.Segments(template, conversation, clock);
        var want = entry.GetProperty("segments").EnumerateArray().Select(s => (s.GetProperty("text").GetString()!, s.GetProperty("trained").GetBoolean())).ToList();
        Assert.Equal(want, segments);
        Assert.Equal(template.Render(conversation, false, clock), string.Concat(segments.Select(s => s.Text)));
    }

    [Fact]
    public void An_implicit_prompt_needs_shared_messages()
    {
        var template = Template("chatml");
        var error = Assert.Throws<FormatException>(() =>
            ChatRendering.Preference(template, null, [ChatMessage.User("a"), ChatMessage.Assistant("b")], [ChatMessage.User("c"), ChatMessage.Assistant("d")]));
        Assert.Contains("give a \"prompt\" field", error.Message);
    }

    [Fact]
    public void A_prompt_ending_with_an_assistant_message_is_continued()
    {
        // transformers' continue_final_message: the rendering cut after the final message's text, its trailing space kept
        // where the template writes the message as given, else cut after the stripped text.
        var chatml = Template("chatml");
        Assert.Equal("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nStart: ",
            ChatRendering.Prompt(chatml, [ChatMessage.User("Q"), ChatMessage.Assistant("Start: ")]));
        var trimming = new ChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endfor %}", "trimming");
        Assert.Equal("<user>Q</user><assistant>Go on", ChatRendering.Prompt(trimming, [ChatMessage.User("Q"), ChatMessage.Assistant(" Go on  ")]));
        // TRL renders a prompt only after a user, tool or assistant message.
        var error = Assert.Throws<FormatException>(() => ChatRendering.Prompt(chatml, [ChatMessage.System("S")]));
        Assert.Contains("role 'system'", error.Message);
        // A preference prompt that ends with an assistant message: the sides start with the rest of that turn.
        var pair = ChatRendering.Preference(chatml, [ChatMessage.User("Q"), ChatMessage.Assistant("Start:")], [ChatMessage.User("A")], [ChatMessage.User("B")]);
        Assert.Equal(("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nStart:", "<|im_end|>\n<|im_start|>user\nA<|im_end|>\n", "<|im_end|>\n<|im_start|>user\nB<|im_end|>\n"), pair);
    }

    [Fact]
    public void A_template_that_is_not_prefix_stable_is_refused()
    {
        // Puts the message count first: a longer conversation does not start with the shorter one's text.
        var template = new ChatTemplate("{{ messages | length }}{% for m in messages %}{{ m.content }}{% endfor %}", "counting");
        var error = Assert.Throws<FormatException>(() => ChatRendering.PromptCompletion(template, [ChatMessage.User("q")], [ChatMessage.Assistant("a")]));
        Assert.Contains("'counting'", error.Message);
    }
}
