// --max-line-length reaches the readers of the commands that take a --dataset without the other data options
// (ppo, grpo, rloo, score): a line longer than it is a bad row named by file and line, before any training.
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class MaxLineLengthCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model, rewardModel, prompts;

    public MaxLineLengthCommandTests()
    {
        model = TinyModels.Create(dir.Sub("model"), context: 64);
        rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, ["{\"prompt\": \"Hi?\", \"chosen\": \"a\", \"rejected\": \"b\"}", $"{{\"prompt\": \"{new string('x', 300)}\"}}"]);
    }

    public void Dispose() => dir.Dispose();

    public static TheoryData<string> Commands => new() { "ppo", "grpo", "rloo", "score" };

    private string[] Arguments(string verb, string output) => verb switch
    {
        "ppo" => ["ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", output, "--max-steps", "1", "--max-new-tokens", "2"],
        "score" => ["score", "--reward-model", rewardModel, "--dataset", prompts],
        _ => [verb, "--model", model, "--dataset", prompts, "--output", output, "--max-steps", "1", "--reward-contains", "a",
              "--num-generations", "2", "--per-device-train-batch-size", "2", "--max-completion-length", "2"],
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void ALineLongerThanTheLimitIsNamed(string verb)
    {
        string output = dir.Sub(verb + "-out");
        var (code, text) = CliRun.Combined([.. Arguments(verb, output), "--max-line-length", "100"]);
        Assert.NotEqual(0, code);
        string flat = string.Concat(text.Where(c => !char.IsWhiteSpace(c)));
        Assert.Contains("prompts.jsonl:2", flat);
        Assert.Contains("--max-line-length", flat);
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));

        // The default limit reads the same file (the command then gets past reading: no line-length error).
        var (_, whole) = CliRun.Combined(Arguments(verb, dir.Sub(verb + "-default")));
        Assert.DoesNotContain("line too long", whole);
    }
}
