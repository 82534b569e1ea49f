// PPO queries as the textbook makes them: the reward data's rows (after its length filter), each rendered chosen text
// cut after the answer marker (`text.split("### Answer: ")[0] + "### Answer: "`).
namespace Rlhf.Data;

internal static class PpoQueries
{
    /// <summary>
    /// The reward-data steps of <see cref="PreferencePipeline"/> (whole texts ≤ MaxLength), then <c>query</c>: one query
    /// per kept row; with <see cref="DataPipelineOptions.MaxQueryLength"/>, queries longer than that are dropped
    /// (not a textbook step: it keeps room for the response in the policy's context).
    /// </summary>
    public static PipelineResult<string> Run(string path, DataPipelineOptions options)
    {
        var report = new DataReport { Source = path };
        return Run(DataRowReader.Read(path, options.SkipBadRows, report, options.MaxLineLength), options, report);
    }

    public static PipelineResult<string> Run(IEnumerable<DataRow> rows, DataPipelineOptions options, DataReport? report = null)
    {
        var pairs = PreferencePipeline.Run(rows, options with { Task = DataTask.Ppo }, report);
        string key = AnswerKey(options.Template);
        var queries = new List<string>(pairs.Examples.Count);
        foreach (var pair in pairs.Examples)
        {
            string query = Query(pair.Prompt + pair.Chosen, key, pair.Prompt);
            if (options.MaxQueryLength is int max && options.Encoder is { } encoder && encoder.CountTokens(query) > max)
            {
                pairs.Report.AddDrop(DropReasons.QueryTooLong, null);
                continue;
            }
            queries.Add(query);
        }
        pairs.Report.AddStep("query", queries.Count);
        return new PipelineResult<string>(queries, pairs.Report);
    }

    /// <summary>
    /// The template's answer marker: the last line of the prompt part after the instruction ("### Answer: " for the
    /// textbook's template); empty when the prompt part ends with the instruction.
    /// </summary>
    public static string AnswerKey(PromptTemplate template)
    {
        const string mark = "\u0000";
        string prompt = template.RenderPrompt(mark);
        string tail = prompt[(prompt.LastIndexOf(mark, StringComparison.Ordinal) + 1)..];
        int newline = tail.LastIndexOf('\n');
        return newline >= 0 && newline + 1 < tail.Length ? tail[(newline + 1)..] : tail;
    }

    /// <summary><c>text.split(key)[0] + key</c>; the rendered prompt when the key is empty or absent.</summary>
    public static string Query(string text, string key, string prompt)
    {
        int i = key.Length == 0 ? -1 : text.IndexOf(key, StringComparison.Ordinal);
        return i < 0 ? prompt : text[..(i + key.Length)];
    }
}
