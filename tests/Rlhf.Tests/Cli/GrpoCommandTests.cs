// `rlhf grpo` and `rlhf rloo` end to end on a tiny folder: rule and command rewards, TRL metric names, a plain
// model folder out, and errors named before training (a missing column, no reward, a batch that is not whole groups).
using Rlhf.Models;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class GrpoCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string prompts;

    public GrpoCommandTests()
    {
        model = TinyModels.Create(dir.Sub("model"), context: 64);
        prompts = dir.Sub("math.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"What is {i} + 1?\", \"answer\": \"{i + 1}\"}}"));
    }

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output) Run(params string[] args) => CliRun.Combined(args);

    /// <summary>Without white space: messages are compared whether or not the console wrapped them.</summary>
    private static string Compact(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    [Theory]
    [InlineData("grpo")]
    [InlineData("rloo")]
    public void TrainsWithRuleAndCommandRewardsAndSavesAPlainModel(string verb)
    {
        string output = dir.Sub(verb);
        var (code, text) = Run(verb, "--model", model, "--dataset", prompts, "--output", output, "--max-steps", "2",
            "--num-generations", "2", "--per-device-train-batch-size", "4", "--max-completion-length", "4", "--learning-rate", "1e-4",
            "--reward-numeric", "answer", "--reward-command", "while read -r line; do echo 0.5; done", "--reward-weights", "1", "0.1",
            "--eval-split", "0.25");
        Assert.True(code == 0, text);
        using var trained = Gpt2Model.Load(output);
        var metrics = File.ReadAllText(Path.Combine(output, "metrics.jsonl"));
        foreach (var name in new[] { "\"reward\"", "\"reward_std\"", "\"frac_reward_zero_std\"", "\"rewards/numeric_answer/mean\"", "\"rewards/command/mean\"",
                     "\"completions/mean_length\"", "\"completions/clipped_ratio\"", "\"clip_ratio/region_mean\"", "\"eval_reward\"" })
            Assert.Contains(name, metrics);
        Assert.True(File.Exists(Path.Combine(output, "rlhf_config.yaml")));
        Assert.Contains("reward_numeric: answer", File.ReadAllText(Path.Combine(output, "rlhf_config.yaml")));
    }

    [Fact]
    public void AMissingRewardColumnIsNamedBeforeTraining()
    {
        var (code, text) = Run("grpo", "--model", model, "--dataset", prompts, "--output", dir.Sub("out"), "--reward-exact-match", "solution",
            "--num-generations", "2", "--per-device-train-batch-size", "2", "--max-completion-length", "4");
        Assert.NotEqual(0, code);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(Compact(text), @"math\.jsonl:\d:reward'exact_match_solution'needsthecolumn'solution'"), text);
        Assert.False(File.Exists(Path.Combine(dir.Sub("out"), "model.safetensors")));
    }

    [Theory]
    [InlineData("No reward: pass --reward-model", "--num-generations", "2")]
    [InlineData("leaves no room for a prompt in the model's context (64 tokens)", "--num-generations", "2", "--reward-contains", "1")]
    [InlineData("must be a multiple of num_generations (3)", "--num-generations", "3", "--reward-contains", "1")]
    [InlineData("2 reward weights were given for 1 reward functions", "--num-generations", "2", "--reward-contains", "1", "--reward-weights", "1", "2")]
    public void BadSettingsAreClearErrors(string message, params string[] extra)
    {
        var (code, text) = Run(["grpo", "--model", model, "--dataset", prompts, "--output", dir.Sub("bad"), "--per-device-train-batch-size", "4", .. extra]);
        Assert.NotEqual(0, code);
        Assert.Contains(Compact(message), Compact(text));
    }
}
