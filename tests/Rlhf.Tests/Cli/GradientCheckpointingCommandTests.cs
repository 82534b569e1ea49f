// --gradient-checkpointing on the trainers: the same trained weights, byte for byte, as without it (the recomputed
// blocks give bit-identical gradients), so the option changes memory and time only.
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class GradientCheckpointingCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("sft", ModelFamilies.Gpt2)]
    [InlineData("dpo", ModelFamilies.Llama)]
    [InlineData("reward", ModelFamilies.Gpt2)]
    public void TrainsTheSameWeights(string command, string family)
    {
        string model = TinyModels.Create(dir.Sub("model"), context: 128, family: family);
        byte[] Train(string output, params string[] extra)
        {
            var (code, _, error) = CliRun.Separate([command, "--model", model, "--dataset", DataSamples.HhSample, "--output", output,
                "--max-steps", "2", "--per-device-train-batch-size", "2", "--seed", "3", .. extra]);
            Assert.True(code == 0, error);
            return File.ReadAllBytes(Path.Combine(output, "model.safetensors"));
        }
        var plain = Train(dir.Sub("plain"));
        var recomputed = Train(dir.Sub("checkpointed"), "--gradient-checkpointing");
        Assert.Equal(plain, recomputed);
        Assert.Contains("gradient_checkpointing: true", File.ReadAllText(Path.Combine(dir.Sub("checkpointed"), "rlhf_config.yaml")));
    }
}
