// One conversational row rendered with a model's chat template, as TRL would (for `rlhf data inspect`): SFT
// `messages` cut into turns (trained = assistant), prompt/completion lists, preference pairs, or a PPO prompt list.
using System.Text.Json;
using Rlhf.Text;

namespace Rlhf.Data;

/// <summary>The rendered pieces of one row; Trained marks text the loss covers (SFT) or a completion (preferences).</summary>
internal sealed record ChatExample(string Location, string Kind, IReadOnlyList<(string Label, string Text, bool Trained)> Pieces)
{
    /// <summary>The first conversational row of <paramref name="path"/> rendered with <paramref name="template"/>, or null when
    /// the file has none. A row with an unknown role or a non-string content is a DataFormatException naming it.</summary>
    public static ChatExample? FirstInFile(string path, ChatTemplate template, string? eos = null)
    {
        foreach (var row in DataRowReader.Read(path, skipBadRows: true))
            if (Render(row, template, eos) is { } example) return example;
        return null;
    }

    /// <summary>The row as the trainers render it (<see cref="ConversationalRows"/>); <paramref name="eos"/> ends the
    /// trained part of an assistant turn.</summary>
    public static ChatExample? Render(DataRow row, ChatTemplate template, string? eos = null)
    {
        bool IsList(string field) => row.Value.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Array;
        try
        {
            if (IsList("chosen") && IsList("rejected"))
            {
                var (p, c, r) = ChatRendering.Preference(template, DataFormats.ListPrompt(row), DataFormats.ParseMessages(row, "chosen"), DataFormats.ParseMessages(row, "rejected"));
                return new ChatExample(row.Location, "preference", [("prompt", p, false), ("chosen", c, true), ("rejected", r, true)]);
            }
            if (IsList("messages"))
            {
                var (pieces, _) = ConversationalRows.SftPieces(row, template, eos);
                return new ChatExample(row.Location, "messages", [.. pieces.Where(p => p.Text.Length > 0).Select(s => (s.Trained ? "trained" : "context", s.Text, s.Trained))]);
            }
            if (IsList("prompt") && IsList("completion"))
            {
                var (pieces, _) = ConversationalRows.SftPieces(row, template, eos);
                return new ChatExample(row.Location, "prompt-completion", [("prompt", pieces[0].Text, false), ("completion", pieces[1].Text, true)]);
            }
            if (IsList("prompt"))
                return new ChatExample(row.Location, "prompt", [("prompt", ChatRendering.Prompt(template, DataFormats.ParseMessages(row, "prompt")), false)]);
        }
        catch (FormatException e)
        {
            throw row.Error("chat template", e.Message);
        }
        return null;
    }
}
