// `rlhf data inspect --task X` reports exactly the rows trainer X trains on: the same steps and counts, printed by both,
// on the real hh-rlhf sample with a model whose context does not cap the textbook's 512-token limit.
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class DataInspectMatchesTrainersTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string data = DataSamples.HhReal;

    public DataInspectMatchesTrainersTests() => model = TinyModels.Create(dir.Sub("model"), layers: 1, channels: 16, context: 1024);

    public void Dispose() => dir.Dispose();

    /// <summary>The report block `data inspect` prints after its "pipeline (…)" line.</summary>
    private string InspectReport(params string[] extra)
    {
        var (code, output, error) = CliRun.Separate(["data", "inspect", "--dataset", data, "--model", model, .. extra]);
        Assert.True(code == 0, error);
        var lines = output.Replace("\r", "").Split('\n');
        int start = Array.FindIndex(lines, l => l.StartsWith("pipeline (", StringComparison.Ordinal)) + 1;
        Assert.True(start > 0, output);
        string report = string.Join('\n', lines[start..]).TrimEnd();
        Assert.Contains("length", report);
        return report;
    }

    private string Train(params string[] args)
    {
        var (code, output, error) = CliRun.Separate(args);
        Assert.True(code == 0, error + output);
        return output.Replace("\r", "");
    }

    private string[] Common(string command, string output) =>
        [command, "--model", model, "--dataset", data, "--output", dir.Sub(output), "--max-steps", "1", "--per-device-train-batch-size", "2"];

    [Fact]
    public void Sft() => Assert.Contains(InspectReport("--task", "sft"), Train(Common("sft", "sft")));

    [Fact]
    public void Reward()
    {
        string report = InspectReport(); // reward is the default task
        Assert.Contains(report, Train(Common("reward", "rm")));
        Assert.Equal(report, InspectReport("--task", "reward"));
    }

    [Fact]
    public void DpoLetMeExplain()
    {
        string report = InspectReport("--let-me-explain"); // selects the DPO pairs
        Assert.Contains("let-me-explain", report);
        Assert.Contains(report, Train([.. Common("dpo", "dpo"), "--let-me-explain"]));
    }

    [Fact]
    public void Ppo()
    {
        Train([.. Common("reward", "rm"), "--max-length", "256"]);
        string report = InspectReport("--task", "ppo");
        string output = Train([.. Common("ppo", "ppo"), "--reward-model", dir.Sub("rm"), "--mini-batch-size", "2", "--num-ppo-epochs", "1"]);
        Assert.Contains(report, output);
        int queries = int.Parse(report.Split('\n').Single(l => l.TrimStart().StartsWith("query", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        Assert.Contains($"PPO: {queries} prompts", output);
    }
}
