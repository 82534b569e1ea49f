// Rewards checked rather than learned (verifiable rewards): exact match against a column, a regular expression, a
// substring, length bounds, and a numeric answer compared with a column. Each scores 1 or 0.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlhf.Data;

namespace Rlhf.Training.Grpo;

/// <summary>1 when the completion, trimmed, equals the row's <paramref name="column"/> (trimmed).</summary>
internal sealed class ExactMatchReward(string column) : ICompletionReward
{
    public string Name => $"exact_match_{column}";
    public IReadOnlyList<string> RequiredColumns => [column];

    public double[] Score(IReadOnlyList<CompletionSample> samples) =>
        samples.Select(s => s.Completion.Trim() == RuleText.Column(s, column).Trim() ? 1.0 : 0.0).ToArray();
}

/// <summary>1 when the completion matches the regular expression (.NET syntax, searched anywhere unless anchored).</summary>
internal sealed class RegexReward : ICompletionReward
{
    private readonly Regex regex;

    public RegexReward(string pattern)
    {
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException error)
        {
            throw new ArgumentException($"--reward-regex '{pattern}' is not a valid regular expression: {error.Message}", error);
        }
    }

    public string Name => "regex";

    public double[] Score(IReadOnlyList<CompletionSample> samples) => samples.Select(s => regex.IsMatch(s.Completion) ? 1.0 : 0.0).ToArray();
}

/// <summary>1 when the completion contains <paramref name="text"/> (ordinal).</summary>
internal sealed class ContainsReward(string text) : ICompletionReward
{
    public string Name => "contains";

    public double[] Score(IReadOnlyList<CompletionSample> samples) =>
        samples.Select(s => s.Completion.Contains(text, StringComparison.Ordinal) ? 1.0 : 0.0).ToArray();
}

/// <summary>1 when the completion has between <paramref name="min"/> and <paramref name="max"/> characters (inclusive).</summary>
internal sealed class LengthReward : ICompletionReward
{
    private readonly int min, max;

    public LengthReward(int min, int max)
    {
        if (min < 0 || max < min) throw new ArgumentException($"length bounds must satisfy 0 ≤ min ≤ max (got {min}..{max}).");
        (this.min, this.max) = (min, max);
    }

    public string Name => "length";

    public double[] Score(IReadOnlyList<CompletionSample> samples) =>
        samples.Select(s => s.Completion.Length >= min && s.Completion.Length <= max ? 1.0 : 0.0).ToArray();
}

/// <summary>
/// 1 when the last number in the completion (its final answer) equals the row's <paramref name="column"/> (a number, or a string holding
/// one) within <paramref name="tolerance"/>; 0 otherwise, also when the completion has no number.
/// </summary>
internal sealed partial class NumericAnswerReward(string column, double tolerance = 1e-6) : ICompletionReward
{
    public string Name => $"numeric_{column}";
    public IReadOnlyList<string> RequiredColumns => [column];

    public double[] Score(IReadOnlyList<CompletionSample> samples) => samples.Select(s =>
    {
        double expected = RuleText.Number(s, column);
        double? answer = LastNumber(s.Completion);
        return answer is double a && Math.Abs(a - expected) <= tolerance ? 1.0 : 0.0;
    }).ToArray();

    /// <summary>The last number written in <paramref name="text"/> (sign, digits, optional decimals; thousands commas dropped).</summary>
    public static double? LastNumber(string text)
    {
        var matches = NumberPattern().Matches(text);
        return matches.Count > 0 && double.TryParse(matches[^1].Value.Replace(",", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value : null;
    }

    [GeneratedRegex(@"-?\d(?:[\d,]*\d)?(?:\.\d+)?")]
    private static partial Regex NumberPattern();
}

internal static class RuleText
{
    public static string Column(CompletionSample sample, string column)
    {
        var row = sample.Row ?? throw new ArgumentException($"A rule reward needs the dataset column '{column}', but the prompt has no row.");
        var value = row.GetRequired(column);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
    }

    public static double Number(CompletionSample sample, string column)
    {
        var row = sample.Row ?? throw new ArgumentException($"A numeric reward needs the dataset column '{column}', but the prompt has no row.");
        var value = row.GetRequired(column);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number)) return number;
        if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out number))
            return number;
        throw row.WrongType(column, "a number (or a string holding one)", value);
    }
}
