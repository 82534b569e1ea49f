// Prompts for the RL trainers from a file, as `rlhf ppo`, `rlhf grpo` and Datasets.ReadPrompts read them: plain text
// lines, or JSON / JSON Lines rows whose prompt is a message list (rendered with the chat template) or a `prompt`,
// `instruction` or `question` string.
using Rlhf.Text;

namespace Rlhf.Data;

/// <param name="Text">The prompt's text before any template (what GRPO's reward functions receive).</param>
/// <param name="Rendered">A message-list prompt rendered with the chat template; null: render <paramref name="Text"/> with the prompt style.</param>
/// <param name="Row">The row it came from (its other columns feed rule rewards); null for a plain-text line.</param>
internal sealed record PromptRow(string Text, string? Rendered, DataRow? Row);

internal static class PromptRows
{
    private static readonly string[] Fields = ["prompt", "instruction", "question"];

    /// <summary>Plain text: neither .json nor .jsonl, and the first non-blank line is not a JSON object.</summary>
    public static bool IsPlainText(string path) =>
        !path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && !path.Contains(".jsonl", StringComparison.OrdinalIgnoreCase)
        && File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l))?.TrimStart().StartsWith('{') != true;

    /// <summary>An hh-rlhf file (chosen/rejected dialogues), whose prompts are the textbook's PPO queries (<see cref="PpoQueries"/>).</summary>
    public static bool IsHhRlhf(string path) => !IsPlainText(path) && DataInspector.Inspect(path, maxRows: 1).Format == DataFormat.HhRlhf;

    /// <summary>
    /// The file's prompts, in order. Plain lines follow <see cref="PromptStyle.Unescape"/>. With <paramref name="hhChosen"/>
    /// a row with none of the prompt fields takes the human turn of its hh-rlhf <c>chosen</c> dialogue (as <c>rlhf ppo</c>
    /// does); with <paramref name="flattenMessages"/> and no <paramref name="chatTemplate"/> message lists are flattened.
    /// </summary>
    /// <exception cref="DataFormatException">A row is malformed or has no prompt (the message names file and line).</exception>
    public static IReadOnlyList<PromptRow> Read(string path, ChatTemplate? chatTemplate, bool hhChosen = false, bool flattenMessages = false,
        int maxLineLength = DataRowReader.DefaultMaxLineLength)
    {
        if (IsPlainText(path))
            return File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => new PromptRow(PromptStyle.Unescape(l), null, null)).ToArray();
        var rows = new List<PromptRow>();
        foreach (var row in DataRowReader.Read(path, maxLineLength: maxLineLength))
        {
            if (ConversationalRows.Prompt(row, chatTemplate, flattenMessages) is { } chat)
            {
                rows.Add(new PromptRow(chat.Text, chat.Rendered, row));
                continue;
            }
            string? key = Fields.FirstOrDefault(row.HasValue);
            if (key is not null) rows.Add(new PromptRow(row.GetString(key), null, row));
            else if (hhChosen && row.HasValue("chosen")) rows.Add(new PromptRow(HhDialogue.ExtractConversation(row.GetString("chosen")).Human, null, row));
            else throw row.Error("no prompt", hhChosen ? "expected a 'prompt', 'instruction', 'question' or hh-rlhf 'chosen' field"
                : "expected a 'prompt', 'instruction' or 'question' field");
        }
        return rows;
    }
}
