// Ranked judgements → preference pairs (chosen / rejected) for a pairwise reward model or DPO.
using Rlhf.Data;

namespace Rlhf.Feedback;

/// <summary>Which pairs a ranking of K responses yields.</summary>
internal enum PairSelection
{
    /// <summary>Every ordered pair (i better than j): up to K(K-1)/2 per prompt, as InstructGPT's K-wise loss uses.</summary>
    AllPairs,

    /// <summary>Only the best response against the worst one (one pair per prompt), unless they are tied.</summary>
    BestVsWorst,
}

internal static class FeedbackPairs
{
    /// <summary>
    /// The pairs of one judgement. Tied responses and identical texts give no pair. The prompt is the plain prompt
    /// (as in the prompts file); trainers apply the template.
    /// </summary>
    public static IEnumerable<PreferencePair> FromRecord(FeedbackRecord record, PairSelection selection = PairSelection.AllPairs)
    {
        var ranks = record.Ranks();
        var responses = record.Responses;
        if (selection == PairSelection.BestVsWorst)
        {
            int last = responses.Count - 1;
            if (last > 0 && ranks[0] < ranks[last] && responses[0] != responses[last])
                yield return new PreferencePair(record.Prompt, responses[0], responses[last], null);
            yield break;
        }
        for (int i = 0; i < responses.Count; i++)
            for (int j = i + 1; j < responses.Count; j++)
                if (ranks[i] < ranks[j] && responses[i] != responses[j])
                    yield return new PreferencePair(record.Prompt, responses[i], responses[j], null);
    }

    public static IEnumerable<PreferencePair> FromRecords(IEnumerable<FeedbackRecord> records, PairSelection selection = PairSelection.AllPairs) =>
        records.SelectMany(r => FromRecord(r, selection));

    /// <summary>Reads a feedback file and writes its pairs as JSONL (prompt / chosen / rejected); returns the pair count.</summary>
    public static int Convert(string feedbackPath, string pairsPath, PairSelection selection = PairSelection.AllPairs)
    {
        if (!File.Exists(feedbackPath)) throw new FileNotFoundException($"The feedback file '{feedbackPath}' does not exist.", feedbackPath);
        if (string.Equals(Path.GetFullPath(feedbackPath), Path.GetFullPath(pairsPath), StringComparison.Ordinal))
            throw new ArgumentException($"The pairs must go to another file than the feedback '{feedbackPath}' (it is only ever appended to).");
        var file = FeedbackStore.ReadFile(feedbackPath);
        if (file.MalformedLines.Count > 0)
            throw new InvalidDataException($"{feedbackPath}: lines {string.Join(", ", file.MalformedLines.Take(5))} are not feedback records.");
        return JsonlWriter.WritePreferences(pairsPath, FromRecords(file.Records, selection));
    }
}
