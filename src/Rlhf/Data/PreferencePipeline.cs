// Preference data preparation as in seed 003: read → single-turn → extract → (Let me explain) → distinct → render → length.
namespace Rlhf.Data;

/// <summary>
/// Turns a preference file (any <see cref="DataFormat"/> but SFT) into rendered <see cref="PreferencePair"/>s and a
/// <see cref="DataReport"/> with the surviving count after each step, like the seed's "160,800 → 48,591 → 48,201".
/// Steps: <c>read</c> (good rows), <c>single-turn</c>, <c>extract</c> (non-empty instruction and answers; ranked rows
/// become all their pairs here, so later counts are pairs), <c>let-me-explain</c> (recipe only), <c>distinct</c>
/// (chosen ≠ rejected), <c>length</c> (prompt ≤ MaxPromptLength, prompt + chosen ≤ MaxLength, prompt and response
/// encoded separately — PITFALLS #12; skipped without an encoder). Rendering cannot drop anything and has no step.
/// </summary>
public static class PreferencePipeline
{
    public const string LetMeExplainPrefix = "Let me explain. ";

    public static PipelineResult<PreferencePair> Run(string path, DataPipelineOptions options)
    {
        var report = new DataReport { Source = path };
        return Run(DataRowReader.Read(path, options.SkipBadRows, report), options, report);
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
                if (string.Equals(pair.Chosen, pair.Rejected, StringComparison.Ordinal))
                {
                    report.AddDrop(DropReasons.IdenticalPair, row.Location);
                    continue;
                }
                distinct++;
                var rendered = pair.Render(options.Template, options.Eos);
                if (options.Encoder is { } encoder)
                {
                    int promptLength = encoder.CountTokens(rendered.Prompt);
                    if (promptLength > options.MaxPromptLength)
                    {
                        report.AddDrop(DropReasons.PromptTooLong, row.Location);
                        continue;
                    }
                    if (promptLength + encoder.CountTokens(rendered.Chosen) > options.MaxLength
                        || (options.CheckRejectedLength && promptLength + encoder.CountTokens(rendered.Rejected) > options.MaxLength))
                    {
                        report.AddDrop(DropReasons.TotalTooLong, row.Location);
                        continue;
                    }
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
        report.AddStep("distinct", distinct);
        if (options.Encoder is not null)
            report.AddStep("length", output.Count);
        return new PipelineResult<PreferencePair>(output, report);
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
                // The recipe builds both responses from the chosen text (seed 003), so the rejected text is not needed.
                string rejected = options.LetMeExplain ? chosen : extract(rejectedText).Item2;
                return (multi, [new PreferencePair(human, chosen, rejected)], EmptyReason(human, chosen, rejected));
            }
            case DataFormat.PreferenceExplicit:
            {
                var pair = DataFormats.ParsePreference(row, format);
                bool multi = HhDialogue.CountHuman(pair.Prompt + pair.Chosen) >= 2 || HhDialogue.CountHuman(pair.Prompt + pair.Rejected) >= 2;
                return (multi, [pair], EmptyReason(pair.Prompt, pair.Chosen, options.LetMeExplain ? pair.Chosen : pair.Rejected));
            }
            case DataFormat.PreferenceConversational:
            {
                var (prompt, chosen, rejected) = DataFormats.ParseConversation(row);
                var pair = new PreferencePair(DataFormats.FlattenPrompt(prompt), chosen, rejected, (float?)row.GetOptionalNumber("margin"));
                return (DataFormats.CountUserTurns(prompt) > 1, [pair], EmptyReason(pair.Prompt, chosen, options.LetMeExplain ? chosen : rejected));
            }
            case DataFormat.Ranked:
            {
                var ranked = DataFormats.ParseRanked(row);
                bool multi = HhDialogue.CountHuman(ranked.Prompt) >= 2;
                string? drop = string.IsNullOrWhiteSpace(ranked.Prompt) ? DropReasons.EmptyInstruction
                    : ranked.Responses.Any(string.IsNullOrWhiteSpace) ? DropReasons.EmptyResponse : null;
                return (multi, ranked.ToPairs().ToList(), drop);
            }
            case DataFormat.Instruction when options.LetMeExplain:
            {
                // The recipe needs only answers (seed 003 builds both sides from one), so demonstrations work too.
                var example = DataFormats.ParseInstruction(row);
                bool multi = HhDialogue.CountHuman(example.Instruction + example.Response) >= 2;
                return (multi, [new PreferencePair(example.Instruction, example.Response, example.Response)],
                    EmptyReason(example.Instruction, example.Response, example.Response));
            }
            default:
                throw row.Error("wrong format",
                    $"this looks like instruction (SFT) data ({row.FieldList()}), not preference pairs; train SFT on it, give the row format " +
                    "explicitly (rlhf: --format), or build pairs from its answers with the \"Let me explain.\" recipe (rlhf: --let-me-explain)");
        }
    }

    internal static string? EmptyReason(string instruction, string chosen, string rejected) =>
        string.IsNullOrWhiteSpace(chosen) || string.IsNullOrWhiteSpace(rejected) ? DropReasons.EmptyResponse
        : string.IsNullOrWhiteSpace(instruction) ? DropReasons.EmptyInstruction
        : null;
}
