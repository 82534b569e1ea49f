// What GRPO and RLOO maximise: reward functions over (prompt, completion, dataset row), weighted and summed as TRL's
// reward_funcs and reward_weights. A function returns NaN for a completion it cannot score.
using Rlhf.Data;

namespace Rlhf.Training.Grpo;

/// <summary>One sampled completion as a reward function sees it.</summary>
/// <param name="Prompt">The dataset's prompt text, before any template.</param>
/// <param name="Completion">The decoded completion (special tokens dropped).</param>
/// <param name="Row">The dataset row the prompt came from (its other columns feed rule rewards), if any.</param>
internal sealed record CompletionSample(string Prompt, string Completion, int[] PromptIds, int[] CompletionIds, bool EndedWithEos, DataRow? Row);

internal interface ICompletionReward
{
    /// <summary>Its name in the metrics (rewards/NAME/mean).</summary>
    string Name { get; }

    /// <summary>Dataset columns every row must have (checked before training).</summary>
    IReadOnlyList<string> RequiredColumns => [];

    /// <summary>One score per sample; NaN where it cannot score.</summary>
    double[] Score(IReadOnlyList<CompletionSample> samples);
}

/// <summary>A plain C# function as a reward: <c>(prompt, completion, row) → score</c>.</summary>
internal sealed class DelegateCompletionReward(string name, Func<string, string, DataRow?, double> score) : ICompletionReward
{
    public string Name => name;

    public double[] Score(IReadOnlyList<CompletionSample> samples) => samples.Select(s => score(s.Prompt, s.Completion, s.Row)).ToArray();
}

/// <summary>Several reward functions, Σₖ wₖ·rₖ per completion (TRL's sum_then_normalize aggregation).</summary>
internal sealed class RewardSet
{
    public IReadOnlyList<ICompletionReward> Functions { get; }
    public IReadOnlyList<double> Weights { get; }

    public RewardSet(IReadOnlyList<ICompletionReward> functions, IReadOnlyList<double>? weights = null)
    {
        if (functions.Count == 0) throw new ArgumentException("At least one reward function is needed.", nameof(functions));
        if (weights is not null && weights.Count != functions.Count)
            throw new ArgumentException($"{weights.Count} reward weights were given for {functions.Count} reward functions.", nameof(weights));
        var names = functions.GroupBy(f => f.Name).FirstOrDefault(g => g.Count() > 1);
        if (names is not null) throw new ArgumentException($"Two reward functions are named '{names.Key}'.", nameof(functions));
        Functions = functions;
        Weights = weights ?? functions.Select(_ => 1.0).ToArray();
    }

    /// <summary>Each function's scores [function][sample].</summary>
    public double[][] ScoreEach(IReadOnlyList<CompletionSample> samples) => Functions.Select(f =>
    {
        var scores = f.Score(samples);
        if (scores.Length != samples.Count)
            throw new InvalidOperationException($"Reward function '{f.Name}' returned {scores.Length} scores for {samples.Count} completions.");
        return scores;
    }).ToArray();

    /// <summary>Σₖ wₖ·rₖ per sample (NaN when any function could not score it).</summary>
    public double[] Combine(double[][] each)
    {
        var total = new double[each[0].Length];
        for (int k = 0; k < each.Length; k++)
            for (int i = 0; i < total.Length; i++) total[i] += Weights[k] * each[k][i];
        return total;
    }

    /// <summary>Fails before training when a row lacks a column a function needs.</summary>
    public void CheckColumns(IEnumerable<DataRow?> rows)
    {
        var needed = Functions.SelectMany(f => f.RequiredColumns.Select(c => (Function: f.Name, Column: c))).ToArray();
        if (needed.Length == 0) return;
        foreach (var row in rows)
            foreach (var (function, column) in needed)
            {
                if (row is null) throw new ArgumentException($"Reward '{function}' needs the dataset column '{column}', but the prompts come without columns.");
                if (!row.HasValue(column))
                    throw row.Error($"missing column '{column}'", $"reward '{function}' needs the column '{column}'; present fields: {row.FieldList()}");
            }
    }
}
