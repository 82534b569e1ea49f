// Summary of a feedback file: judgements per annotator, inter-annotator agreement, flag counts.
using System.Text.Json.Serialization;

namespace Rlhf.Feedback;

/// <summary>What `rlhf label stats` reports.</summary>
internal sealed record FeedbackStats
{
    [JsonPropertyName("judgements")] public int Judgements { get; init; }
    [JsonPropertyName("prompts")] public int Prompts { get; init; }
    [JsonPropertyName("malformed_lines")] public int MalformedLines { get; init; }
    [JsonPropertyName("per_annotator")] public required IReadOnlyDictionary<string, int> PerAnnotator { get; init; }
    [JsonPropertyName("flags")] public required IReadOnlyDictionary<string, int> Flags { get; init; }
    [JsonPropertyName("ties")] public int Ties { get; init; }

    /// <summary>Prompts judged by at least two different annotators.</summary>
    [JsonPropertyName("prompts_judged_twice")] public int PromptsJudgedTwice { get; init; }

    /// <summary>Pairs of judgements (two annotators, one prompt) that share at least two distinct responses.</summary>
    [JsonPropertyName("compared_judgement_pairs")] public int ComparedJudgementPairs { get; init; }

    /// <summary>Mean over compared judgement pairs of the fraction of response pairs both order the same way (ties count as an order).</summary>
    [JsonPropertyName("pairwise_agreement")] public double? PairwiseAgreement { get; init; }

    /// <summary>Fraction of compared judgement pairs whose best response is the same text.</summary>
    [JsonPropertyName("top1_agreement")] public double? Top1Agreement { get; init; }

    public static FeedbackStats Compute(FeedbackFile file)
    {
        var records = file.Records;
        var perAnnotator = records.GroupBy(r => r.Annotator).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());
        var flags = RankSubmission.FlagNames.ToDictionary(f => f, _ => 0);
        foreach (var name in records.SelectMany(r => r.Flags).SelectMany(f => f))
            flags[name] = flags.GetValueOrDefault(name) + 1;

        int twice = 0, compared = 0, top1 = 0;
        double agreementSum = 0;
        foreach (var prompt in records.GroupBy(r => r.PromptId))
        {
            // Each annotator's latest judgement of the prompt.
            var latest = prompt.GroupBy(r => r.Annotator).Select(g => g.MaxBy(r => r.Timestamp)!).ToArray();
            if (latest.Length < 2) continue;
            twice++;
            for (int a = 0; a < latest.Length; a++)
                for (int b = a + 1; b < latest.Length; b++)
                {
                    if (AgreementOf(latest[a], latest[b]) is not { } agreement) continue;
                    compared++;
                    agreementSum += agreement;
                    if (latest[a].Responses[0] == latest[b].Responses[0]) top1++;
                }
        }

        return new FeedbackStats
        {
            Judgements = records.Count,
            Prompts = records.Select(r => r.PromptId).Distinct().Count(),
            MalformedLines = file.MalformedLines.Count,
            PerAnnotator = perAnnotator,
            Flags = flags,
            Ties = records.Count(r => r.Ties.Count > 0),
            PromptsJudgedTwice = twice,
            ComparedJudgementPairs = compared,
            PairwiseAgreement = compared > 0 ? agreementSum / compared : null,
            Top1Agreement = compared > 0 ? (double)top1 / compared : null,
        };
    }

    /// <summary>
    /// The fraction of pairs of distinct response texts present in both judgements that both place in the same
    /// relation (better, worse or tied); null when fewer than two texts are shared. A text appearing twice in one
    /// list counts at its best rank.
    /// </summary>
    public static double? AgreementOf(FeedbackRecord first, FeedbackRecord second)
    {
        var rankA = RankByText(first);
        var rankB = RankByText(second);
        var shared = rankA.Keys.Where(rankB.ContainsKey).Order(StringComparer.Ordinal).ToArray();
        if (shared.Length < 2) return null;
        int same = 0, total = 0;
        for (int i = 0; i < shared.Length; i++)
            for (int j = i + 1; j < shared.Length; j++)
            {
                total++;
                if (Math.Sign(rankA[shared[i]] - rankA[shared[j]]) == Math.Sign(rankB[shared[i]] - rankB[shared[j]])) same++;
            }
        return (double)same / total;
    }

    private static Dictionary<string, int> RankByText(FeedbackRecord record)
    {
        var ranks = record.Ranks();
        var byText = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < record.Responses.Count; i++)
            byText.TryAdd(record.Responses[i], ranks[i]);
        return byText;
    }
}
