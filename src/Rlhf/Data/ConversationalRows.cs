// TRL's conversational rows (message lists) rendered with the model's chat template for the trainers (trl/data_utils.py
// is_conversational, maybe_extract_prompt, apply_chat_template): SFT `messages` cut into turns with the loss on the
// assistant's, prompt/completion lists, preference pairs with an implicit or explicit prompt, and PPO/GRPO prompts.
using System.Text.Json;
using Rlhf.Text;

namespace Rlhf.Data;

internal static class ConversationalRows
{
    private static readonly string[] ConversationFields = ["messages", "prompt", "completion", "chosen", "rejected"];

    /// <summary>TRL's is_conversational: one of the row's text fields is a list (of messages).</summary>
    public static bool IsConversational(DataRow row) =>
        ConversationFields.Any(f => row.Value.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.Array);

    /// <summary>The template that renders <paramref name="row"/>, or null to flatten it; an error naming the row when there is neither.</summary>
    public static ChatTemplate? TemplateFor(DataRow row, DataPipelineOptions options) =>
        options.ChatTemplate ?? (options.FlattenMessages ? null
            : throw row.Error("no chat template",
                "the row holds message lists (conversational data), but the model folder has no chat template (tokenizer_config.json " +
                $"\"chat_template\" or {ChatTemplate.JinjaFileName}); add one, or flatten the messages into a prompt template on purpose (rlhf: --template)"));

    /// <summary>
    /// An SFT row rendered with <paramref name="template"/>: <c>messages</c> (the loss on assistant turns, TRL's
    /// assistant_only_loss) or <c>prompt</c>/<c>completion</c> lists (the loss on the completion, TRL's completion_only_loss).
    /// The instruction is the text before the first trained piece. Returns whether the row is multi-turn (more than one
    /// user message) and null for the example when no piece is trained (no assistant turn).
    /// </summary>
    public static (bool MultiTurn, InstructionExample? Example) Sft(DataRow row, ChatTemplate template, string? eos)
    {
        var (pieces, users) = SftPieces(row, template, eos);
        int first = pieces.FindIndex(p => p.Trained && p.Text.Length > 0);
        if (first < 0) return (users > 1, null);
        var turns = pieces.Skip(first).Where(p => p.Text.Length > 0).ToList();
        return (users > 1, new InstructionExample(string.Concat(pieces.Take(first).Select(p => p.Text)), string.Concat(turns.Select(t => t.Text))) { Turns = turns });
    }

    /// <summary>The rendered pieces of an SFT row in order (what <see cref="Sft"/> trains on) and its number of user messages.</summary>
    public static (List<ChatTurn> Pieces, int UserTurns) SftPieces(DataRow row, ChatTemplate template, string? eos)
    {
        List<ChatTurn> pieces;
        int users;
        try
        {
            if (row.Has("messages"))
            {
                var messages = DataFormats.ParseMessages(row, "messages");
                if (messages.Count == 0) throw row.Error("empty conversation", "field 'messages' has no messages");
                users = DataFormats.CountUserTurns(messages);
                pieces = [.. ChatRendering.Segments(template, messages).SelectMany(p => p.Trained ? TrainedUpToEos(p.Text, eos) : [new ChatTurn(p.Text, false)])];
            }
            else
            {
                var prompt = DataFormats.ParseMessages(row, "prompt");
                var completion = DataFormats.ParseMessages(row, "completion");
                if (prompt.Count == 0 || completion.Count == 0) throw row.Error("empty conversation", $"field '{(prompt.Count == 0 ? "prompt" : "completion")}' has no messages");
                users = DataFormats.CountUserTurns(prompt);
                var (p, c) = ChatRendering.PromptCompletion(template, prompt, completion);
                pieces = [new ChatTurn(p, false), new ChatTurn(c, true)];
            }
        }
        catch (Exception e) when (e is FormatException or Rlhf.Text.Templates.TemplateException)
        {
            throw row.Error("chat template", e.Message);
        }
        return (pieces, users);
    }

    /// <summary>
    /// An assistant turn's text, trained up to and including its last end-of-turn text (EOS); what the template writes
    /// after it (ChatML's "\n") is context, as in TRL's training templates, whose {% generation %} block ends there.
    /// </summary>
    private static IEnumerable<ChatTurn> TrainedUpToEos(string text, string? eos)
    {
        int end = string.IsNullOrEmpty(eos) ? -1 : text.LastIndexOf(eos, StringComparison.Ordinal);
        if (end < 0) return [new ChatTurn(text, true)];
        end += eos!.Length;
        return end == text.Length ? [new ChatTurn(text, true)] : [new ChatTurn(text[..end], true), new ChatTurn(text[end..], false)];
    }

    /// <summary>
    /// A conversational preference row, raw: TRL's prompt extraction (an explicit <c>prompt</c> list, or the messages
    /// chosen and rejected share), the answers as the completions' last contents, and the messages for rendering.
    /// A <c>prompt</c> that is not a list (HuggingFaceH4/ultrafeedback_binarized's string) is ignored, as TRL's
    /// maybe_extract_prompt ignores a prompt that is not conversational when chosen and rejected are.
    /// </summary>
    public static PreferencePair RawPreference(DataRow row)
    {
        IReadOnlyList<ChatMessage>? prompt = DataFormats.ListPrompt(row);
        var chosen = DataFormats.ParseMessages(row, "chosen");
        var rejected = DataFormats.ParseMessages(row, "rejected");
        if (chosen.Count == 0 || rejected.Count == 0) throw row.Error("empty conversation", $"field '{(chosen.Count == 0 ? "chosen" : "rejected")}' has no messages");
        IReadOnlyList<ChatMessage> p, c, r;
        try
        {
            (p, c, r) = ChatRendering.SplitPrompt(prompt, chosen, rejected);
        }
        catch (FormatException e)
        {
            throw row.Error("no prompt", e.Message);
        }
        return new PreferencePair(DataFormats.FlattenPrompt(p), c[^1].Content, r[^1].Content, (float?)row.GetOptionalNumber("margin"))
        {
            Conversation = new ChatConversation(p, c, r),
        };
    }

    /// <summary>The pair rendered with the template (TRL's apply_chat_template for preference data): the prompt with
    /// the generation prompt, each side the rest of the rendering of prompt + completion.</summary>
    public static PreferencePair RenderPreference(DataRow row, PreferencePair pair, ChatTemplate template)
    {
        var conversation = pair.Conversation!;
        static IReadOnlyList<ChatMessage> WithAnswer(IReadOnlyList<ChatMessage> messages, string answer) =>
            [.. messages.Take(messages.Count - 1), messages[^1] with { Content = answer }];
        try
        {
            var (p, c, r) = ChatRendering.Preference(template, conversation.Prompt, WithAnswer(conversation.Chosen, pair.Chosen), WithAnswer(conversation.Rejected, pair.Rejected));
            return new PreferencePair(p, c, r, pair.Margin) { ChatRendered = true };
        }
        catch (Exception e) when (e is FormatException or Rlhf.Text.Templates.TemplateException)
        {
            throw row.Error("chat template", e.Message);
        }
    }

    /// <summary>
    /// A PPO/GRPO row's prompt as the policy sees it when it is conversational: a <c>prompt</c> message list, or the
    /// prompt chosen and rejected lists share (TRL's maybe_extract_prompt), rendered with the generation prompt
    /// (apply_chat_template(prompt, add_generation_prompt=True)); Text is its last user message, for rule rewards.
    /// Null when the row's prompt is plain text. With no template and <paramref name="flatten"/>, Rendered is null and
    /// Text the messages flattened by <see cref="DataFormats.FlattenPrompt"/> (for the default prompt template).
    /// </summary>
    public static (string? Rendered, string Text)? Prompt(DataRow row, ChatTemplate? template, bool flatten = false)
    {
        bool IsList(string field) => row.Value.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Array;
        if (!IsList("prompt") && !(IsList("chosen") && IsList("rejected"))) return null;
        if (template is null && !flatten)
            throw row.Error("no chat template",
                $"the prompt is a message list, but the model folder has no chat template (tokenizer_config.json \"chat_template\" or {ChatTemplate.JinjaFileName}) and --template/--raw cannot render messages; give the prompt as a string or add a template");
        var messages = IsList("prompt") ? DataFormats.ParseMessages(row, "prompt") : RawPreference(row).Conversation!.Prompt;
        if (messages.Count == 0) throw row.Error("empty conversation", "field 'prompt' has no messages");
        if (template is null) return (null, DataFormats.FlattenPrompt(messages));
        try
        {
            return (ChatRendering.Prompt(template, messages), messages.LastOrDefault(m => m.Role == "user")?.Content ?? messages[^1].Content);
        }
        catch (Exception e) when (e is FormatException or Rlhf.Text.Templates.TemplateException)
        {
            throw row.Error("chat template", e.Message);
        }
    }
}
