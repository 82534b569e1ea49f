// The demo's GRPO stage at a tiny size: accuracies within [0, 1], the same numbers again with the same seed, the
// model folders load; and the shipped sums: held out for real, answers right, the teacher wrong only by a forgotten carry.
using Rlhf.Demo;
using Rlhf.Models.Gpt2;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Demo;

public class DemoGrpoStageTests
{
    private static DemoOptions Tiny(string output) => new()
    {
        OutputDir = output, Seed = 7,
        Settings = DemoSettings.QuickRun with
        {
            GrpoLayerCount = 1, GrpoHeadCount = 2, GrpoEmbeddingSize = 32, GrpoSftEpochs = 1, GrpoSteps = 2, GrpoPromptsPerStep = 2,
            GrpoNumGenerations = 4, GrpoEvalProblems = 12,
        },
    };

    /// <summary>The logged numbers that depend only on the seed (not on the clock).</summary>
    private static string[] Numbers(IReadOnlyList<IReadOnlyDictionary<string, double>> history) =>
        history.SelectMany(h => h.Where(kv => !kv.Key.Contains("second", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}={kv.Value:R}")).ToArray();

    [Fact]
    public void TheStageReportsAccuraciesInRangeAndRepeatsWithTheSameSeed()
    {
        using var dir = new TempDirectory();
        var first = DemoPipeline.RunGrpoStage(Tiny(dir.Sub("a")));
        var second = DemoPipeline.RunGrpoStage(Tiny(dir.Sub("b")));

        Assert.InRange(first.AccuracyBefore, 0, 1);
        Assert.InRange(first.AccuracyAfter, 0, 1);
        Assert.Equal(first.AccuracyBefore, second.AccuracyBefore);
        Assert.Equal(first.AccuracyAfter, second.AccuracyAfter);
        Assert.Equal(Numbers(first.SftHistory), Numbers(second.SftHistory));
        Assert.Equal(Numbers(first.GrpoHistory), Numbers(second.GrpoHistory));
        // The accuracy curve starts at the evaluation before GRPO and ends at the one after.
        Assert.Equal(0, first.GrpoHistory[0]["step"]);
        Assert.Equal(first.AccuracyBefore, first.GrpoHistory[0]["eval_reward"]);
        Assert.Equal(first.AccuracyAfter, first.GrpoHistory.Last(h => h.ContainsKey("eval_reward"))["eval_reward"]);
        Assert.Contains(first.GrpoHistory, h => h.ContainsKey("reward") && h.ContainsKey("frac_reward_zero_std"));

        foreach (var stage in new[] { "grpo_sft", "grpo" })
        {
            string folder = Path.Combine(dir.Sub("a"), stage);
            using var model = Gpt2Model.Load(folder);
            Assert.Equal(257, model.Config.VocabSize); // character level
            Assert.Contains($"stage {stage}", File.ReadAllText(Path.Combine(folder, StageConfig.FileName)));
        }
    }

    [Fact]
    public void TheSumsAreHeldOutAndTheTeacherOnlyForgetsCarries()
    {
        var data = DemoData.Load();
        Assert.Equal(500, data.ArithmeticSft.Count);
        Assert.Equal(300, data.ArithmeticPrompts.Count);
        Assert.Equal(200, data.ArithmeticEval.Count);
        var all = data.ArithmeticSft.Concat(data.ArithmeticPrompts).Concat(data.ArithmeticEval).ToArray();
        Assert.Equal(1000, all.Select(p => p.Prompt).Distinct().Count()); // three disjoint splits
        Assert.All(data.ArithmeticSft, p => Assert.NotNull(p.Response));
        int wrong = 0;
        foreach (var p in all)
        {
            var parts = p.Prompt.TrimEnd('=').Split('+').Select(int.Parse).ToArray();
            Assert.Equal(parts[0] + parts[1], p.Answer);
            if (p.Response is null) continue;
            int response = int.Parse(p.Response, System.Globalization.CultureInfo.InvariantCulture);
            if (response == p.Answer) continue;
            wrong++;
            Assert.True(parts[0] % 10 + parts[1] >= 10, $"{p.Prompt} {p.Response}: a mistake without a carry");
            Assert.Equal(p.Answer - 10, response);
        }
        // Some demonstrations are wrong (so GRPO has something to fix), most are right.
        Assert.InRange(wrong, 50, 250);
    }
}
