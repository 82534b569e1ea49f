// Preference data preparation as the textbook does it: read → single-turn → extract → (Let me explain) → render → length.
namespace Rlhf.Data;

/// <summary>
/// Turns a preference file (any <see cref="DataFormat"/> but SFT) into rendered <see cref="PreferencePair"/>s and a
/// <see cref="DataReport"/> with the surviving count after each step, like the textbook's "160,800 → 48,591 → 48,201".
/// Steps: <c>read</c> (good rows), <c>single-turn</c> (neither chosen nor rejected has "Human: " twice),
/// <c>extract</c> (the textbook's <c>extract_conversation</c>; a text without "Assistant: " is dropped, an empty
/// answer is kept unless <see cref="DataPipelineOptions.DropEmptyAnswers"/>; ranked rows become all their pairs here,
/// so later counts are pairs), <c>let-me-explain</c> (the DPO recipe only: it skips empty questions and answers and
/// answers already starting with "let me explain"), <c>distinct</c> (only with
/// <see cref="DataPipelineOptions.DropIdenticalPairs"/>), <c>length</c> (by <see cref="DataPipelineOptions.Task"/>:
/// whole texts for reward models, prompt and response apart for DPO; skipped without an encoder).
/// Rendering cannot drop anything and has no step.
/// </summary>
internal static class PreferencePipeline
{
    public const string LetMeExplainPrefix = "Let me explain. ";

    public static PipelineResult<PreferencePair> Run(string path, DataPipelineOptions options)
    {
        var report = new DataReport { Source = path };
        return Run(DataRowReader.Read(path, options.SkipBadRows, report, options.MaxLineLength), options, report);
    }

    /// <summary>Runs the steps over rows already read (e.g. from several files); bad rows are added to <paramref name="report"/>.</summary>
    public static PipelineResult<PreferencePair> Run(IEnumerable<DataRow> rows, DataPipelineOptions options, DataReport? report = null)
    {
        options.Validate();
        report ??= new DataReport();
        int read = 0, singleTurn = 0, extracted = 0, letMeExplain = 0, distinct = 0;
        var output = new List<PreferencePair>();
        DataFormat format = options.Format;
        foreach (var row in rows)
        {
            List<PreferencePair> pairs;
            bool multiTurn;
            try
            {
                if (format == DataFormat.Auto)
                    format = DataFormats.Detect(row);
                (multiTurn, pairs, string? drop) = Extract(row, format, options);
                read++;
                if (options.SingleTurnOnly && multiTurn)
                {
                    report.AddDrop(DropReasons.MultiTurn, row.Location);
                    continue;
                }
                singleTurn++;
                if (drop is not null)
                {
                    report.AddDrop(drop, row.Location);
                    continue;
                }
            }
            catch (DataFormatException e) when (options.SkipBadRows && e.Reason != "wrong format")
            {
                report.AddBadRow(e);
                continue;
            }
            foreach (var raw in pairs)
            {
                extracted++;
                var pair = raw;
                if (options.LetMeExplain)
                {
                    if (raw.Chosen.StartsWith("let me explain", StringComparison.OrdinalIgnoreCase))
                    {
                        report.AddDrop(DropReasons.AlreadyLetMeExplain, row.Location);
                        continue;
                    }
                    pair = raw with { Chosen = LetMeExplainPrefix + raw.Chosen, Rejected = raw.Chosen };
                    letMeExplain++;
                }
                if (options.DropIdenticalPairs)
                {
                    if (string.Equals(pair.Chosen, pair.Rejected, StringComparison.Ordinal))
                    {
                        report.AddDrop(DropReasons.IdenticalPair, row.Location);
                        continue;
                    }
                    distinct++;
                }
                PreferencePair rendered;
                try
                {
                    rendered = pair.Conversation is null ? pair.Render(options.Template, options.Eos)
                        : ConversationalRows.RenderPreference(row, pair, options.ChatTemplate!);
                }
                catch (DataFormatException e) when (options.SkipBadRows)
                {
                    report.AddBadRow(e);
                    continue;
                }
                if (LengthDrop(rendered, options) is { } tooLong)
                {
                    report.AddDrop(tooLong, row.Location);
                    continue;
                }
                output.Add(rendered);
            }
        }
        report.AddStep("read", read);
        if (options.SingleTurnOnly)
            report.AddStep("single-turn", singleTurn);
        report.AddStep("extract", extracted);
        if (options.LetMeExplain)
            report.AddStep("let-me-explain", letMeExplain);
        if (options.DropIdenticalPairs)
            report.AddStep("distinct", distinct);
        if (options.Encoder is not null)
            report.AddStep("length", output.Count);
        return new PipelineResult<PreferencePair>(output, report);
    }

    /// <summary>
    /// The length rule of <see cref="DataPipelineOptions.Task"/>, on token ids exactly as the trainer builds them
    /// (<see cref="TokenSequences"/>); null when the pair fits or there is no encoder.
    /// </summary>
    private static string? LengthDrop(PreferencePair rendered, DataPipelineOptions options)
    {
        if (options.Encoder is not { } encoder)
            return null;
        // A chat template writes the end of each turn: TRL appends EOS to plain-text rows only.
        int? eosTokenId = rendered.ChatRendered ? null : options.EosTokenId;
        if (options.MeasuresWholeText)
        {
            // The textbook's reward data: len(input_ids_chosen) <= max_length and len(input_ids_rejected) <= max_length.
            int chosen = TokenSequences.Whole(encoder, rendered.Prompt, rendered.Chosen, options.Template, eosTokenId).Length;
            int rejected = TokenSequences.Whole(encoder, rendered.Prompt, rendered.Rejected, options.Template, eosTokenId).Length;
            return chosen == 0 || rejected == 0 ? DropReasons.EmptyText
                : chosen > options.MaxLength || rejected > options.MaxLength ? DropReasons.TextTooLong : null;
        }
        // The textbook's DPO filter_length: len(encode(prompt)) <= 256 and len(encode(prompt)) + len(encode(chosen)) <= 512.
        int promptLength = encoder.CountTokens(rendered.Prompt);
        if (promptLength > options.MaxPromptLength)
            return DropReasons.PromptTooLong;
        int Total(string response) => promptLength + (rendered.ChatRendered ? TokenSequences.After(encoder, rendered.Prompt, response)
            : TokenSequences.Response(encoder, response, options.Template, eosTokenId)).Length;
        return Total(rendered.Chosen) > options.MaxLength || (options.CheckRejectedLength && Total(rendered.Rejected) > options.MaxLength)
            ? DropReasons.TotalTooLong : null;
    }

    /// <summary>Whether the row is multi-turn, its raw pairs, and a drop reason when extraction left something empty.</summary>
    private static (bool MultiTurn, List<PreferencePair> Pairs, string? Drop) Extract(DataRow row, DataFormat format, DataPipelineOptions options)
    {
        switch (format)
        {
            case DataFormat.HhRlhf:
            {
                string chosenText = row.GetString("chosen"), rejectedText = row.GetString("rejected");
                bool multi = !HhDialogue.IsSingleTurn(chosenText, rejectedText);
                Func<string, (string, string)> extract = options.Extraction == HhExtraction.Seed
                    ? HhDialogue.ExtractConversation
                    : HhDialogue.ExtractLastTurn;
                var (human, chosen) = extract(chosenText);
                // The recipe builds both responses from the chosen text, so the rejected text is not needed.
                string rejected = options.LetMeExplain ? chosen : extract(rejectedText).Item2;
                // The textbook's `human, assistant = text.split("Assistant: ")[:2]` fails on a text without that marker.
                bool noAssistant = !chosenText.Contains(HhDialogue.AssistantMarker, StringComparison.Ordinal)
                    || (!options.LetMeExplain && !rejectedText.Contains(HhDialogue.AssistantMarker, StringComparison.Ordinal));
                return (multi, [new PreferencePair(human, chosen, rejected)],
                    noAssistant ? DropReasons.NoAssistantTurn : EmptyDrop(options, human, chosen, rejected));
            }
            case DataFormat.PreferenceExplicit:
            {
                var pair = DataFormats.ParsePreference(row, format);
                bool multi = HhDialogue.CountHuman(pair.Prompt + pair.Chosen) >= 2 || HhDialogue.CountHuman(pair.Prompt + pair.Rejected) >= 2;
                return (multi, [pair], EmptyDrop(options, pair.Prompt, pair.Chosen, options.LetMeExplain ? pair.Chosen : pair.Rejected));
            }
            case DataFormat.PreferenceConversational when ConversationalRows.TemplateFor(row, options) is not null:
            {
                var pair = ConversationalRows.RawPreference(row);
                var conversation = pair.Conversation!;
                return (DataFormats.IsMultiTurn(conversation.Prompt, conversation.Chosen, conversation.Rejected), [pair],
                    EmptyDrop(options, pair.Prompt, pair.Chosen, options.LetMeExplain ? pair.Chosen : pair.Rejected));
            }
            case DataFormat.PreferenceConversational:
            {
                var (prompt, chosen, rejected, multiTurn) = DataFormats.ParseConversation(row);
                var pair = new PreferencePair(DataFormats.FlattenPrompt(prompt), chosen, rejected, (float?)row.GetOptionalNumber("margin"));
                return (multiTurn, [pair], EmptyDrop(options, pair.Prompt, chosen, options.LetMeExplain ? chosen : rejected));
            }
            case DataFormat.Ranked:
            {
                var ranked = DataFormats.ParseRanked(row);
                bool multi = HhDialogue.CountHuman(ranked.Prompt) >= 2;
                string? drop = !(options.DropEmptyAnswers || options.LetMeExplain) ? null
                    : string.IsNullOrWhiteSpace(ranked.Prompt) ? DropReasons.EmptyInstruction
                    : ranked.Responses.Any(string.IsNullOrWhiteSpace) ? DropReasons.EmptyResponse : null;
                return (multi, ranked.ToPairs().ToList(), drop);
            }
            case DataFormat.Instruction when options.LetMeExplain:
            {
                // The recipe needs only answers (the textbook builds both sides from one), so demonstrations work too.
                var example = DataFormats.ParseInstruction(row);
                bool multi = HhDialogue.CountHuman(example.Instruction + example.Response) >= 2;
                return (multi, [new PreferencePair(example.Instruction, example.Response, example.Response)],
                    EmptyDrop(options, example.Instruction, example.Response, example.Response));
            }
            default:
                throw row.Error("wrong format",
                    $"this looks like instruction (SFT) data ({row.FieldList()}), not preference pairs; train SFT on it, give the row format " +
                    "explicitly (rlhf: --format), or build pairs from its answers with the \"Let me explain.\" recipe (rlhf: --let-me-explain)");
        }
    }

    /// <summary>The empty-text drop: always in the DPO recipe (the textbook skips an empty question or answer there), else an option.</summary>
    internal static string? EmptyDrop(DataPipelineOptions options, string instruction, string chosen, string rejected) =>
        options.DropEmptyAnswers || options.LetMeExplain ? EmptyReason(instruction, chosen, rejected) : null;

    internal static string? EmptyReason(string instruction, string chosen, string rejected) =>
        string.IsNullOrWhiteSpace(chosen) || string.IsNullOrWhiteSpace(rejected) ? DropReasons.EmptyResponse
        : string.IsNullOrWhiteSpace(instruction) ? DropReasons.EmptyInstruction
        : null;
}
