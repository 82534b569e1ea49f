// SFT data preparation: read → single-turn → extract → render with the template → length filter.
namespace Rlhf.Data;

/// <summary>
/// Turns an SFT file (or the chosen side of an hh-rlhf file) into rendered <see cref="InstructionExample"/>s
/// (Instruction = prompt part, Response = response part with EOS) and a report. Steps: <c>read</c>,
/// <c>single-turn</c> (hh text with "Human: " twice or more in chosen or rejected — the same rows as the reward
/// data — or messages with more than one user turn), <c>extract</c> (a dialogue without "Assistant: " is dropped;
/// empty texts only with <see cref="DataPipelineOptions.DropEmptyAnswers"/>), <c>length</c> (prompt ≤
/// MaxPromptLength and prompt + response ≤ MaxLength, the parts tokenized apart as the policy sees them; skipped
/// without an encoder).
/// </summary>
internal static class SftPipeline
{
    public static PipelineResult<InstructionExample> Run(string path, DataPipelineOptions options)
    {
        var report = new DataReport { Source = path };
        return Run(DataRowReader.Read(path, options.SkipBadRows, report, options.MaxLineLength), options, report);
    }

    public static PipelineResult<InstructionExample> Run(IEnumerable<DataRow> rows, DataPipelineOptions options, DataReport? report = null)
    {
        options.Validate();
        report ??= new DataReport();
        if (options.Format is not (DataFormat.Auto or DataFormat.Instruction or DataFormat.HhRlhf))
            throw new ArgumentException($"SFT reads instruction or hh-rlhf rows (the chosen side), not {options.Format} rows (rlhf: --format instruction or hh-rlhf)");
        int read = 0, singleTurn = 0, extracted = 0;
        var output = new List<InstructionExample>();
        foreach (var row in rows)
        {
            try
            {
                var (multi, noAssistant, example) = Extract(row, options);
                read++;
                if (options.SingleTurnOnly && multi)
                {
                    report.AddDrop(DropReasons.MultiTurn, row.Location);
                    continue;
                }
                singleTurn++;
                string? drop = noAssistant ? DropReasons.NoAssistantTurn
                    : options.DropEmptyAnswers ? PreferencePipeline.EmptyReason(example.Instruction, example.Response, example.Response)
                    : null;
                if (drop is not null)
                {
                    report.AddDrop(drop, row.Location);
                    continue;
                }
                extracted++;
                var rendered = example.Render(options.Template, options.Eos);
                if (options.Encoder is { } encoder)
                {
                    int promptLength = encoder.CountTokens(rendered.Instruction);
                    if (promptLength > options.MaxPromptLength)
                    {
                        report.AddDrop(DropReasons.PromptTooLong, row.Location);
                        continue;
                    }
                    int responseLength = TokenSequences.Response(encoder, rendered.Response, options.Template, options.EosTokenId).Length;
                    if (promptLength + responseLength > options.MaxLength)
                    {
                        report.AddDrop(DropReasons.TotalTooLong, row.Location);
                        continue;
                    }
                }
                output.Add(rendered);
            }
            catch (DataFormatException e) when (options.SkipBadRows)
            {
                report.AddBadRow(e);
            }
        }
        report.AddStep("read", read);
        if (options.SingleTurnOnly)
            report.AddStep("single-turn", singleTurn);
        report.AddStep("extract", extracted);
        if (options.Encoder is not null)
            report.AddStep("length", output.Count);
        return new PipelineResult<InstructionExample>(output, report);
    }

    private static (bool MultiTurn, bool NoAssistant, InstructionExample Example) Extract(DataRow row, DataPipelineOptions options)
    {
        bool plainFields = row.Has("instruction") || row.Has("question") || row.Has("prompt");
        string? hhField = plainFields ? null : row.Has("text") ? "text" : row.Has("chosen") && !row.Has("messages") ? "chosen" : null;
        if (hhField is not null)
        {
            string text = row.GetString(hhField);
            var (human, answer) = options.Extraction == HhExtraction.Seed
                ? HhDialogue.ExtractConversation(text)
                : HhDialogue.ExtractLastTurn(text);
            // An hh-rlhf pair is single-turn when both sides are (the reward data's filter), so SFT trains on the same rows.
            bool multi = HhDialogue.CountHuman(text) >= 2
                || (hhField == "chosen" && row.HasValue("rejected") && HhDialogue.CountHuman(row.GetString("rejected")) >= 2);
            return (multi, !text.Contains(HhDialogue.AssistantMarker, StringComparison.Ordinal), new InstructionExample(human, answer));
        }
        if (!plainFields && row.Has("messages"))
        {
            var messages = DataFormats.ParseMessages(row, "messages");
            var example = DataFormats.ParseInstruction(row);
            return (DataFormats.CountUserTurns(messages) > 1, false, example);
        }
        var plain = DataFormats.ParseInstruction(row);
        return (HhDialogue.CountHuman(plain.Instruction + plain.Response) >= 2, false, plain);
    }
}
