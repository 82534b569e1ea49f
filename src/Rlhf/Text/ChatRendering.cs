// TRL's rules for turning conversational rows into text with a chat template (trl/data_utils.py
// maybe_extract_prompt and apply_chat_template): a prompt rendered with add_generation_prompt, and each completion
// as the rendering of prompt + completion minus that prompt's text, so prompt and completion ids stay apart (PITFALLS 12).
namespace Rlhf.Text;

internal static class ChatRendering
{
    /// <summary>A PPO/GRPO prompt: apply_chat_template(prompt, add_generation_prompt=True).</summary>
    public static string Prompt(ChatTemplate template, IReadOnlyList<ChatMessage> prompt, DateTime? now = null) => template.Render(prompt, addGenerationPrompt: true, now);

    /// <summary>Prompt and completion texts for a prompt-completion row (SFT) or one side of a preference pair:
    /// completion = apply_chat_template(prompt + completion)[len(prompt_text):].</summary>
    public static (string Prompt, string Completion) PromptCompletion(ChatTemplate template, IReadOnlyList<ChatMessage> prompt, IReadOnlyList<ChatMessage> completion, DateTime? now = null)
    {
        now ??= DateTime.Now;
        string promptText = Prompt(template, prompt, now);
        return (promptText, Continuation(template, promptText, [.. prompt, .. completion], now));
    }

    /// <summary>A preference row as TRL renders it. Without an explicit prompt (implicit form), the prompt is the
    /// longest run of leading messages chosen and rejected share (maybe_extract_prompt), and each side keeps the rest.</summary>
    public static (string Prompt, string Chosen, string Rejected) Preference(ChatTemplate template, IReadOnlyList<ChatMessage>? prompt, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected, DateTime? now = null)
    {
        now ??= DateTime.Now;
        if (prompt is null || prompt.Count == 0)
        {
            int shared = 0;
            while (shared < chosen.Count && shared < rejected.Count && chosen[shared] == rejected[shared]) shared++;
            if (shared == 0) throw new FormatException("chosen and rejected share no leading messages, so there is no prompt; give a \"prompt\" field.");
            prompt = chosen.Take(shared).ToList();
            chosen = chosen.Skip(shared).ToList();
            rejected = rejected.Skip(shared).ToList();
        }
        string promptText = Prompt(template, prompt, now);
        return (promptText, Continuation(template, promptText, [.. prompt, .. chosen], now), Continuation(template, promptText, [.. prompt, .. rejected], now));
    }

    /// <summary>A `messages` row cut into pieces at turn boundaries; Trained marks the assistant turns, which the SFT
    /// loss covers (TRL's assistant_only_loss). Piece i is the rendering of messages[..i+1] minus that of messages[..i]
    /// (with add_generation_prompt before an assistant turn, so the assistant header belongs to the prompt side).</summary>
    public static List<(string Text, bool Trained)> Segments(ChatTemplate template, IReadOnlyList<ChatMessage> messages, DateTime? now = null)
    {
        now ??= DateTime.Now;
        var pieces = new List<(string, bool)>();
        string done = "";
        for (int i = 0; i < messages.Count; i++)
        {
            bool assistant = messages[i].Role == "assistant";
            if (assistant && i > 0)
            {
                string header = Continuation(template, done, messages.Take(i).ToList(), now, addGenerationPrompt: true);
                if (header.Length > 0) pieces.Add((header, false));
                done += header;
            }
            string turn = Continuation(template, done, messages.Take(i + 1).ToList(), now);
            pieces.Add((turn, assistant));
            done += turn;
        }
        return pieces;
    }

    /// <summary>The rendering of <paramref name="messages"/> minus <paramref name="prefix"/>, which it must start with.
    /// One clock for all renderings of a row, so a dated header cannot change between them.</summary>
    private static string Continuation(ChatTemplate template, string prefix, IReadOnlyList<ChatMessage> messages, DateTime? now, bool addGenerationPrompt = false)
    {
        string whole = template.Render(messages, addGenerationPrompt, now);
        if (!whole.StartsWith(prefix, StringComparison.Ordinal))
            throw new FormatException($"the chat template '{template.Name}' renders a conversation differently once it grows (the shorter rendering is not a prefix of the longer), so prompt and completion cannot be split.");
        return whole[prefix.Length..];
    }
}
