// TRL's rules for turning conversational rows into text with a chat template (trl/data_utils.py
// maybe_extract_prompt and apply_chat_template): a prompt rendered with add_generation_prompt (or continuing its final
// assistant message), and each completion
// as the rendering of prompt + completion minus that prompt's text, so prompt and completion ids stay apart (PITFALLS 12).
namespace Rlhf.Text;

internal static class ChatRendering
{
    /// <summary>Prompt and completion texts for a prompt-completion row (SFT) or one side of a preference pair:
    /// completion = apply_chat_template(prompt + completion)[len(prompt_text):].</summary>
    public static (string Prompt, string Completion) PromptCompletion(ChatTemplate template, IReadOnlyList<ChatMessage> prompt, IReadOnlyList<ChatMessage> completion, DateTime? now = null)
    {
        now ??= DateTime.Now;
        string promptText = Prompt(template, prompt, now);
        return (promptText, Continuation(template, promptText, [.. prompt, .. completion], now));
    }

    /// <summary>A preference row as TRL renders it (trl/data_utils.py apply_chat_template, after maybe_extract_prompt):
    /// the prompt as <see cref="Prompt"/>, each side the rendering of prompt + completion after the prompt text, which
    /// is first cut to the text all three renderings share (TRL's guard for templates such as DeepSeek-R1's, whose
    /// generation prompt differs from the start of the assistant turn; usually a no-op). Without an explicit prompt
    /// (implicit form), the prompt is extracted as <see cref="SplitPrompt"/> does.</summary>
    public static (string Prompt, string Chosen, string Rejected) Preference(ChatTemplate template, IReadOnlyList<ChatMessage>? prompt, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected, DateTime? now = null)
    {
        now ??= DateTime.Now;
        (prompt, chosen, rejected) = SplitPrompt(prompt, chosen, rejected);
        string promptText = Prompt(template, prompt, now);
        string promptChosen = template.Render([.. prompt, .. chosen], addGenerationPrompt: false, now);
        string promptRejected = template.Render([.. prompt, .. rejected], addGenerationPrompt: false, now);
        promptText = promptText[..SharedLength(promptText, promptChosen)];
        promptText = promptText[..SharedLength(promptText, promptRejected)];
        return (promptText, promptChosen[promptText.Length..], promptRejected[promptText.Length..]);
    }

    private static int SharedLength(string a, string b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    /// <summary>A prompt as TRL's apply_chat_template renders it (PPO/GRPO prompts, prompt-completion and preference rows):
    /// add_generation_prompt after a user or tool message; continue_final_message after an assistant message
    /// (transformers: the rendering cut right after that message's text); any other last role is an error.</summary>
    public static string Prompt(ChatTemplate template, IReadOnlyList<ChatMessage> prompt, DateTime? now = null)
    {
        string role = prompt[^1].Role;
        if (role is "user" or "tool") return template.Render(prompt, addGenerationPrompt: true, now);
        if (role != "assistant")
            throw new FormatException($"the prompt's last message has the role '{role}'; a prompt must end with a user, tool or assistant message (TRL's rule)");
        // transformers' apply_chat_template(continue_final_message=True): find the final message's stripped text from
        // the right; keep its trailing whitespace only where the template kept the message exactly as written.
        string rendered = template.Render(prompt, addGenerationPrompt: false, now);
        string final = prompt[^1].Content;
        string stripped = Templates.TemplateMembers.Strip(final, null, left: true, right: true);
        string leftStripped = Templates.TemplateMembers.Strip(final, null, left: true, right: false);
        int at = stripped.Length == 0 ? rendered.Length : rendered.LastIndexOf(stripped, StringComparison.Ordinal);
        if (at < 0)
            throw new FormatException($"the chat template '{template.Name}' does not write the prompt's final assistant message as given, so it cannot be continued");
        bool exact = string.Equals(rendered.Substring(at, Math.Min(leftStripped.Length, rendered.Length - at)), final, StringComparison.Ordinal);
        return rendered[..(at + (exact ? leftStripped.Length : stripped.Length))];
    }

    /// <summary>
    /// TRL's maybe_extract_prompt on message lists: an explicit prompt is kept as it is; without one, extract_prompt: the
    /// prompt is chosen and rejected up to the first message where they differ, and each side keeps the rest. When one
    /// side is a prefix of the other (or both are equal) its loop ends without finding a difference and leaves the last
    /// message of the shorter side to the completions. An empty prompt is an error (TRL fails later on it).
    /// </summary>
    public static (IReadOnlyList<ChatMessage> Prompt, IReadOnlyList<ChatMessage> Chosen, IReadOnlyList<ChatMessage> Rejected) SplitPrompt(
        IReadOnlyList<ChatMessage>? prompt, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected)
    {
        if (prompt is { Count: > 0 }) return (prompt, chosen, rejected);
        int common = Math.Min(chosen.Count, rejected.Count), shared = 0;
        while (shared < common && chosen[shared] == rejected[shared]) shared++;
        if (shared == common && common > 0)
        {
            if (common == 1) throw new FormatException("chosen and rejected are the same single message, so there is no prompt and nothing to compare; give a \"prompt\" field.");
            shared = common - 1;
        }
        if (shared == 0) throw new FormatException("chosen and rejected share no leading messages, so there is no prompt; give a \"prompt\" field.");
        return (chosen.Take(shared).ToList(), chosen.Skip(shared).ToList(), rejected.Skip(shared).ToList());
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
