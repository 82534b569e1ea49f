// The labeling queue behind `rlhf label`: which prompt comes next, its K sampled responses, judgements and skips.
using System.Globalization;

namespace Rlhf.Feedback;

/// <summary>One prompt with its K responses, as shown to an annotator (responses in sampled order, indices 0..K-1).</summary>
internal sealed record LabelTask(string PromptId, string Prompt, string RenderedPrompt, IReadOnlyList<string> Responses, int Judged, int Total);

/// <summary>
/// Serves prompts in file order, skipping those <see cref="Annotator"/> has already judged in the output file (so
/// a restart resumes where it stopped). A skipped prompt is not written; it comes back once after all fresh prompts,
/// and a second skip drops it for this session (it returns on the next start). Responses are sampled lazily with a
/// seed derived from the prompt's id, so they do not depend on order and two annotators with the same seed see the
/// same responses (which makes their judgements comparable). Thread-safe.
/// </summary>
internal sealed class LabelingSession
{
    private readonly Lock gate = new();
    private readonly IResponseSampler sampler;
    private readonly FeedbackStore store;
    private readonly Dictionary<string, LabelPrompt> byId;
    private readonly List<LabelPrompt> fresh;
    private readonly List<LabelPrompt> skippedOnce = [];
    private readonly HashSet<string> judged = [];
    private readonly HashSet<string> shown = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<IReadOnlyList<string>>> responses = new();

    public int ResponseCount { get; }
    public string Annotator { get; }
    public string Model { get; }
    public SamplingSettings Sampling { get; }
    public FeedbackStore Store => store;
    public int Total => byId.Count;
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Called with errors from background pre-generation (the next prompt's responses).</summary>
    public event Action<Exception>? BackgroundError;

    public LabelingSession(IReadOnlyList<LabelPrompt> prompts, int responseCount, IResponseSampler sampler, FeedbackStore store,
        string annotator, string model, SamplingSettings sampling)
    {
        if (responseCount < 2) throw new ArgumentException($"--k must be at least 2 to compare responses (got {responseCount}).");
        if (responseCount > 16) throw new ArgumentException($"--k must be at most 16 (got {responseCount}).");
        if (string.IsNullOrWhiteSpace(annotator) || annotator.Length > RankSubmission.MaxAnnotatorLength || annotator.Any(char.IsControl))
            throw new ArgumentException($"The annotator name must be 1 to {RankSubmission.MaxAnnotatorLength} printable characters.");
        sampling.Validate();
        this.sampler = sampler;
        this.store = store;
        ResponseCount = responseCount;
        Annotator = annotator.Trim();
        Model = model;
        Sampling = sampling;
        byId = new Dictionary<string, LabelPrompt>(StringComparer.Ordinal);
        foreach (var prompt in prompts) byId.TryAdd(prompt.Id, prompt);
        foreach (var record in store.Read().Records)
            if (record.Annotator == Annotator && byId.ContainsKey(record.PromptId))
                judged.Add(record.PromptId);
        fresh = byId.Values.Where(p => !judged.Contains(p.Id)).ToList();
    }

    /// <summary>Prompts judged in the file by this annotator, this session included.</summary>
    public int Judged
    {
        get { lock (gate) return judged.Count; }
    }

    /// <summary>The prompt to judge now (the same until it is judged or skipped), or null when none is left.</summary>
    public LabelTask? Current(bool prefetchNext = true)
    {
        LabelPrompt? prompt, next;
        int judgedCount;
        lock (gate)
        {
            var queue = fresh.Concat(skippedOnce).Take(2).ToArray();
            prompt = queue.FirstOrDefault();
            next = queue.Length > 1 ? queue[1] : null;
            judgedCount = judged.Count;
        }
        if (prompt is null) return null;
        var sampled = ResponsesOf(prompt);
        lock (gate) shown.Add(prompt.Id);
        if (prefetchNext && next is not null) Prefetch(next);
        return new LabelTask(prompt.Id, prompt.Text, prompt.Rendered, sampled, judgedCount, Total);
    }

    /// <summary>Validates and stores a judgement; throws <see cref="FeedbackValidationException"/> (nothing written) when it does not fit.</summary>
    public FeedbackRecord Submit(RankSubmission submission)
    {
        lock (gate)
        {
            var prompt = Served(submission.PromptId);
            var record = submission.ToRecord(prompt, responses[prompt.Id].Value, Annotator, Model, Sampling, Clock.GetUtcNow());
            store.Append(record);
            judged.Add(prompt.Id);
            fresh.Remove(prompt);
            skippedOnce.Remove(prompt);
            return record;
        }
    }

    /// <summary>Puts a prompt aside: after the fresh prompts the first time, out of this session the second time. Nothing is written.</summary>
    public void Skip(string promptId)
    {
        lock (gate)
        {
            var prompt = Served(promptId);
            if (fresh.Remove(prompt)) skippedOnce.Add(prompt);
            else skippedOnce.Remove(prompt);
        }
    }

    /// <summary>The prompt behind an id that was shown and is still open, else a validation error.</summary>
    private LabelPrompt Served(string promptId)
    {
        if (!byId.TryGetValue(promptId, out var prompt) || !shown.Contains(promptId))
            throw new FeedbackValidationException($"unknown prompt id \"{Truncate(promptId)}\"");
        if (judged.Contains(promptId)) throw new FeedbackValidationException($"prompt \"{promptId}\" is already judged");
        if (!fresh.Contains(prompt) && !skippedOnce.Contains(prompt)) throw new FeedbackValidationException($"prompt \"{promptId}\" was skipped twice and is closed for this session");
        return prompt;
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private IReadOnlyList<string> ResponsesOf(LabelPrompt prompt) =>
        responses.GetOrAdd(prompt.Id, _ => new Lazy<IReadOnlyList<string>>(() => Sample(prompt))).Value;

    private void Prefetch(LabelPrompt prompt)
    {
        if (responses.ContainsKey(prompt.Id)) return;
        var lazy = responses.GetOrAdd(prompt.Id, _ => new Lazy<IReadOnlyList<string>>(() => Sample(prompt)));
        _ = Task.Run(() =>
        {
            try
            {
                _ = lazy.Value;
            }
            catch (Exception error)
            {
                responses.TryRemove(new KeyValuePair<string, Lazy<IReadOnlyList<string>>>(prompt.Id, lazy));
                if (error is not ObjectDisposedException) BackgroundError?.Invoke(error); // shutting down
            }
        });
    }

    private IReadOnlyList<string> Sample(LabelPrompt prompt)
    {
        var sampled = sampler.Sample(prompt.Rendered, ResponseCount, SeedFor(prompt.Id));
        if (sampled.Count != ResponseCount) throw new InvalidOperationException($"the sampler returned {sampled.Count} responses instead of {ResponseCount}");
        return sampled;
    }

    /// <summary>The generation seed of a prompt: the run's seed mixed with the prompt id (independent of order).</summary>
    public ulong SeedFor(string promptId) =>
        Sampling.Seed * 0x9E3779B97F4A7C15UL ^ ulong.Parse(promptId, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
