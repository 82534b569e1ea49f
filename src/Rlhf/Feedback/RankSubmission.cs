// An annotator's ranking of one task as sent by the page or the terminal, and its validation.
using System.Text.Json;

namespace Rlhf.Feedback;

/// <summary>A request that is malformed or does not fit the task it names; nothing is written for it.</summary>
internal sealed class FeedbackValidationException(string message) : Exception(message);

/// <summary>
/// A ranking of the responses of task <see cref="PromptId"/>, by their index as shown (0-based):
/// <see cref="Order"/> best-first (a permutation of 0..K-1), <see cref="Ties"/> groups of indices judged equal
/// (each group adjacent in the order), <see cref="Flags"/> per index ("harmful", "untruthful").
/// </summary>
internal sealed record RankSubmission(
    string PromptId,
    IReadOnlyList<int> Order,
    IReadOnlyList<IReadOnlyList<int>> Ties,
    IReadOnlyDictionary<int, IReadOnlyList<string>> Flags,
    string? Annotator = null)
{
    /// <summary>The flags an annotator may set on a response.</summary>
    public static IReadOnlyList<string> FlagNames { get; } = ["harmful", "untruthful"];

    public const int MaxAnnotatorLength = 64;

    /// <summary>
    /// Reads <c>{"prompt_id": "...", "order": [2,0,1], "ties": [[0,1]], "flags": {"2": ["harmful"]}, "annotator": "ann"}</c>;
    /// throws <see cref="FeedbackValidationException"/> on anything else (shape only; <see cref="LabelingSession"/> checks ranges).
    /// </summary>
    public static RankSubmission Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException error)
        {
            throw new FeedbackValidationException($"the body is not valid JSON ({error.Message})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FeedbackValidationException("the body must be a JSON object");
            string promptId = RequiredPromptId(root);
            if (!root.TryGetProperty("order", out var orderElement)) throw new FeedbackValidationException("\"order\" is missing");
            var order = IntArray(orderElement, "order");
            var ties = new List<IReadOnlyList<int>>();
            if (root.TryGetProperty("ties", out var tiesElement) && tiesElement.ValueKind != JsonValueKind.Null)
            {
                if (tiesElement.ValueKind != JsonValueKind.Array) throw new FeedbackValidationException("\"ties\" must be an array of index arrays");
                foreach (var group in tiesElement.EnumerateArray()) ties.Add(IntArray(group, "ties"));
            }
            var flags = new Dictionary<int, IReadOnlyList<string>>();
            if (root.TryGetProperty("flags", out var flagsElement) && flagsElement.ValueKind != JsonValueKind.Null)
            {
                if (flagsElement.ValueKind != JsonValueKind.Object) throw new FeedbackValidationException("\"flags\" must be an object {index: [flag, ...]}");
                foreach (var property in flagsElement.EnumerateObject())
                {
                    if (!int.TryParse(property.Name, System.Globalization.NumberStyles.None, null, out int index))
                        throw new FeedbackValidationException($"flag key \"{property.Name}\" is not a response index");
                    if (property.Value.ValueKind != JsonValueKind.Array || property.Value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                        throw new FeedbackValidationException($"flags for response {index} must be an array of strings");
                    flags[index] = property.Value.EnumerateArray().Select(v => v.GetString()!).ToArray();
                }
            }
            string? annotator = null;
            if (root.TryGetProperty("annotator", out var annotatorElement) && annotatorElement.ValueKind != JsonValueKind.Null)
            {
                if (annotatorElement.ValueKind != JsonValueKind.String) throw new FeedbackValidationException("\"annotator\" must be a string");
                annotator = annotatorElement.GetString();
            }
            return new RankSubmission(promptId, order, ties, flags, annotator);
        }
    }

    /// <summary>Reads <c>{"prompt_id": "..."}</c> (the skip request).</summary>
    public static string ParsePromptId(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new FeedbackValidationException("the body must be a JSON object");
            return RequiredPromptId(document.RootElement);
        }
        catch (JsonException error)
        {
            throw new FeedbackValidationException($"the body is not valid JSON ({error.Message})");
        }
    }

    private static string RequiredPromptId(JsonElement root)
    {
        if (!root.TryGetProperty("prompt_id", out var id) || id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
            throw new FeedbackValidationException("\"prompt_id\" must be a non-empty string");
        return id.GetString()!;
    }

    private static int[] IntArray(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Array) throw new FeedbackValidationException($"\"{name}\" must be an array of integers");
        var values = new List<int>();
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int value))
                throw new FeedbackValidationException($"\"{name}\" must hold integers (got {item.GetRawText()})");
            values.Add(value);
        }
        return values.ToArray();
    }

    /// <summary>
    /// Checks the submission against a task with <paramref name="responseCount"/> responses and builds the stored
    /// record (responses best-first, ties and flags moved to best-first positions).
    /// </summary>
    public FeedbackRecord ToRecord(LabelPrompt prompt, IReadOnlyList<string> responses, string sessionAnnotator, string model,
        SamplingSettings? sampling, DateTimeOffset timestamp)
    {
        int k = responses.Count;
        if (Order.Count != k) throw new FeedbackValidationException($"\"order\" must rank all {k} responses (got {Order.Count})");
        var position = new int[k];
        Array.Fill(position, -1);
        for (int p = 0; p < k; p++)
        {
            int index = Order[p];
            if (index < 0 || index >= k) throw new FeedbackValidationException($"\"order\" holds {index}, outside 0..{k - 1}");
            if (position[index] >= 0) throw new FeedbackValidationException($"\"order\" holds {index} twice; it must be a permutation of 0..{k - 1}");
            position[index] = p;
        }

        var tied = new HashSet<int>();
        var ties = new List<IReadOnlyList<int>>();
        foreach (var group in Ties)
        {
            if (group.Count < 2) throw new FeedbackValidationException("a tie group needs at least two responses");
            foreach (int index in group)
            {
                if (index < 0 || index >= k) throw new FeedbackValidationException($"tie index {index} is outside 0..{k - 1}");
                if (!tied.Add(index)) throw new FeedbackValidationException($"response {index} appears in more than one tie or twice in one");
            }
            var positions = group.Select(i => position[i]).Order().ToArray();
            if (positions[^1] - positions[0] != positions.Length - 1)
                throw new FeedbackValidationException($"tied responses [{string.Join(",", group)}] must be adjacent in the order");
            ties.Add(positions);
        }
        ties.Sort((a, b) => a[0].CompareTo(b[0]));

        var flags = new List<string>[k];
        for (int p = 0; p < k; p++) flags[p] = [];
        foreach (var (index, names) in Flags)
        {
            if (index < 0 || index >= k) throw new FeedbackValidationException($"flag index {index} is outside 0..{k - 1}");
            foreach (string name in names)
            {
                if (!FlagNames.Contains(name)) throw new FeedbackValidationException($"unknown flag \"{name}\" (known: {string.Join(", ", FlagNames)})");
                if (!flags[position[index]].Contains(name)) flags[position[index]].Add(name);
            }
        }

        // The session names the annotator (--annotator); a request may repeat that name but not judge under another.
        string annotator = sessionAnnotator;
        if (!string.IsNullOrWhiteSpace(Annotator) && Annotator.Trim() != annotator)
            throw new FeedbackValidationException($"\"annotator\" is fixed by the session ('{annotator}'); a request cannot change it");

        return new FeedbackRecord
        {
            PromptId = prompt.Id,
            Prompt = prompt.Text,
            RenderedPrompt = prompt.Rendered,
            Responses = Order.Select(i => responses[i]).ToArray(),
            Ties = ties,
            Flags = flags,
            Annotator = annotator,
            Model = model,
            Timestamp = timestamp,
            Sampling = sampling,
        };
    }
}
