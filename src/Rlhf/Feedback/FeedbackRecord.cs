// One human judgement as stored in the labeling JSONL: a prompt and its K responses ranked best-first.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rlhf.Feedback;

/// <summary>
/// One line of a feedback file. <see cref="Responses"/> are ordered best-first (InstructGPT's K-wise ranking);
/// <see cref="Ties"/> groups positions in that list judged equal (each group consecutive, at least two);
/// <see cref="Flags"/> runs parallel to <see cref="Responses"/> ("harmful", "untruthful"). Skipped prompts are
/// not written, so every line is a usable judgement.
/// </summary>
internal sealed record FeedbackRecord
{
    [JsonPropertyName("prompt_id")] public required string PromptId { get; init; }

    /// <summary>The prompt as written in the prompts file (the instruction).</summary>
    [JsonPropertyName("prompt")] public required string Prompt { get; init; }

    /// <summary>The text the model was conditioned on (the prompt in the project's template, or the raw prompt).</summary>
    [JsonPropertyName("rendered_prompt")] public required string RenderedPrompt { get; init; }

    /// <summary>The responses, best first.</summary>
    [JsonPropertyName("responses")] public required IReadOnlyList<string> Responses { get; init; }

    /// <summary>Groups of positions in <see cref="Responses"/> judged equally good.</summary>
    [JsonPropertyName("ties")] public IReadOnlyList<IReadOnlyList<int>> Ties { get; init; } = [];

    /// <summary>For each response (parallel to <see cref="Responses"/>), the flags the annotator set.</summary>
    [JsonPropertyName("flags")] public IReadOnlyList<IReadOnlyList<string>> Flags { get; init; } = [];

    [JsonPropertyName("annotator")] public required string Annotator { get; init; }

    [JsonPropertyName("model")] public required string Model { get; init; }

    /// <summary>UTC time of the judgement, ISO 8601.</summary>
    [JsonPropertyName("timestamp")] public required DateTimeOffset Timestamp { get; init; }

    /// <summary>How the responses were sampled (temperature, top_p, max_new_tokens, seed).</summary>
    [JsonPropertyName("sampling")] public SamplingSettings? Sampling { get; init; }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The record as one JSON line (no line break inside; newlines in texts are escaped).</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses one line; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static FeedbackRecord Parse(string line)
    {
        FeedbackRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<FeedbackRecord>(line, JsonOptions);
        }
        catch (JsonException error)
        {
            throw new FormatException($"not a feedback record: {error.Message}", error);
        }
        if (record is null) throw new FormatException("not a feedback record: null");
        if (record.Responses.Count == 0) throw new FormatException("a feedback record needs at least one response");
        if (record.Flags.Count != 0 && record.Flags.Count != record.Responses.Count)
            throw new FormatException($"flags has {record.Flags.Count} entries for {record.Responses.Count} responses");
        foreach (var group in record.Ties)
            if (group.Any(i => i < 0 || i >= record.Responses.Count))
                throw new FormatException($"a tie group [{string.Join(",", group)}] points outside the {record.Responses.Count} responses");
        return record;
    }

    /// <summary>The rank of each position (0 = best); tied positions share the rank of the best of their group.</summary>
    public int[] Ranks()
    {
        var ranks = Enumerable.Range(0, Responses.Count).ToArray();
        foreach (var group in Ties)
        {
            int best = group.Min();
            foreach (int i in group) ranks[i] = best;
        }
        return ranks;
    }
}

/// <summary>The sampling settings the responses were drawn with.</summary>
internal sealed record SamplingSettings
{
    [JsonPropertyName("temperature")] public float Temperature { get; init; } = 1f;
    [JsonPropertyName("top_p")] public float TopP { get; init; } = 1f;
    [JsonPropertyName("max_new_tokens")] public int MaxNewTokens { get; init; } = 64;
    [JsonPropertyName("seed")] public ulong Seed { get; init; }

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentException($"--temperature must be ≥ 0 (got {Temperature}); 0 means greedy.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"--top-p must lie in (0, 1] (got {TopP}).");
        if (MaxNewTokens < 1) throw new ArgumentException($"--max-new-tokens must be ≥ 1 (got {MaxNewTokens}).");
    }
}
