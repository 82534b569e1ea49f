// --use-peft --base-dtype bfloat16 through the commands (the frozen base held only in bf16): dpo on a Llama and sft and
// reward on a GPT-2, with gradient checkpointing, write adapter folders that merge (from the fp32 base on disk) into
// models that load and generate; ppo and grpo generate on the bf16 base; `bench dpo` measures it; bf16 without LoRA is refused.
using System.Text.Json;
using Rlhf.Cli.Commands;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class FrozenBaseCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private static string[] Train(string command, string model, string output, params string[] extra) =>
        [command, "--model", model, "--dataset", DataSamples.HhSample, "--output", output, "--max-steps", "2", "--per-device-train-batch-size", "2",
         "--use-peft", "--lora-r", "4", "--lora-target-modules", "all-linear", "--base-dtype", "bfloat16", "--gradient-checkpointing", .. extra];

    /// <summary>The adapter folder merges into a plain model folder that generates.</summary>
    private void AssertMergesAndGenerates(string model, string adapter)
    {
        Assert.True(File.Exists(Path.Combine(adapter, PeftAdapterFolder.WeightsFileName)));
        Assert.False(File.Exists(Path.Combine(adapter, ICausalLm.WeightsFileName)), "a LoRA run writes only its adapter folder");
        string merged = dir.Sub(Path.GetFileName(adapter) + "-merged");
        var merge = CliRun.Separate("merge", "--model", model, "--adapter", adapter, "--output", merged);
        Assert.True(merge.Code == 0, merge.Error);
        var generated = CliRun.Separate("generate", "--model", merged, "--prompt", "Hello", "--max-new-tokens", "3", "--greedy", "--json");
        Assert.True(generated.Code == 0, generated.Error);
    }

    [SkippableFact]
    public void DpoOnALlamaWithABFloat16BaseWritesAnAdapterThatMerges()
    {
        Skip.IfNot(InferenceWeights.Supported, "a bf16 frozen base needs AVX-512");
        string model = TinyModels.Create(dir.Sub("llama"), context: 128, family: ModelFamilies.Llama);
        string output = dir.Sub("dpo");
        var (code, text, error) = CliRun.Separate(Train("dpo", model, output, "--let-me-explain"));
        Assert.True(code == 0, error + text);
        Assert.Contains("LoRA r=4", text);
        AssertMergesAndGenerates(model, output);
    }

    [SkippableFact]
    public void SftAndRewardOnAGpt2WithABFloat16BaseWriteAdaptersThatMerge()
    {
        Skip.IfNot(InferenceWeights.Supported, "a bf16 frozen base needs AVX-512");
        string model = TinyModels.Create(dir.Sub("gpt2"), context: 128, family: ModelFamilies.Gpt2);
        string sft = dir.Sub("sft");
        var trained = CliRun.Separate(Train("sft", model, sft, "--learning-rate", "1e-2"));
        Assert.True(trained.Code == 0, trained.Error);
        AssertMergesAndGenerates(model, sft);

        string reward = dir.Sub("reward");
        var scored = CliRun.Separate(Train("reward", model, reward));
        Assert.True(scored.Code == 0, scored.Error);
        using var file = SafeTensors.Open(Path.Combine(reward, PeftAdapterFolder.WeightsFileName));
        Assert.Contains("base_model.model.score.weight", file.Tensors.Keys);
    }

    [SkippableFact]
    public void PpoAndGrpoGenerateOnTheBFloat16Base()
    {
        Skip.IfNot(InferenceWeights.Supported, "a bf16 frozen base needs AVX-512");
        string model = TinyModels.Create(dir.Sub("llama"), context: 128, family: ModelFamilies.Llama);
        string prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 4).Select(i => $"{{\"prompt\": \"What is {i} + 1?\", \"answer\": \"{i + 1}\"}}"));
        var (code, text, error) = CliRun.Separate("grpo", "--model", model, "--dataset", prompts, "--output", dir.Sub("grpo"), "--max-steps", "1",
            "--num-generations", "2", "--per-device-train-batch-size", "4", "--max-completion-length", "4", "--reward-numeric", "answer", "--beta", "0.1",
            "--use-peft", "--base-dtype", "bfloat16");
        Assert.True(code == 0, error + text);
        Assert.True(File.Exists(Path.Combine(dir.Sub("grpo"), PeftAdapterFolder.ConfigFileName)));

        string rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        var ppo = CliRun.Separate("ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("ppo"),
            "--max-steps", "1", "--per-device-train-batch-size", "4", "--mini-batch-size", "2", "--max-new-tokens", "4", "--use-peft", "--lora-r", "4",
            "--base-dtype", "bfloat16", "--gradient-checkpointing");
        Assert.True(ppo.Code == 0, ppo.Error + ppo.Output);
        Assert.True(File.Exists(Path.Combine(dir.Sub("ppo"), PeftAdapterFolder.WeightsFileName)));
        Assert.True(File.Exists(Path.Combine(dir.Sub("ppo"), PolicyWithValueHead.ValueHeadFileName)));
    }

    [Fact]
    public void BFloat16WithoutLoraIsRefusedWhereThereIsNoReference()
    {
        string model = TinyModels.Create(dir.Sub("llama"), context: 128, family: ModelFamilies.Llama);
        var (code, _, error) = CliRun.Separate("sft", "--model", model, "--dataset", DataSamples.HhSample, "--output", dir.Sub("sft"), "--max-steps", "1",
            "--base-dtype", "bfloat16");
        Assert.NotEqual(0, code);
        Assert.Contains("--base-dtype bfloat16", error);
        Assert.Contains("--use-peft", error);
        Assert.False(Directory.Exists(dir.Sub("sft")) && Directory.EnumerateFileSystemEntries(dir.Sub("sft")).Any());
    }

    [SkippableFact]
    public void BenchDpoMeasuresLoraOnABFloat16Base()
    {
        Skip.IfNot(InferenceWeights.Supported, "a bf16 frozen base needs AVX-512");
        // The command runs each configuration in a child process; here the child's part runs in-process.
        Environment.SetEnvironmentVariable(BenchDpoCommand.RunVariable, "measured");
        try
        {
            var (code, output, error) = CliRun.Separate("bench", "dpo", "--preset", "smollm2-135m", "--n-layer", "2", "--n-embd", "64", "--n-head", "4",
                "--intermediate-size", "96", "--vocab-size", "300", "--batch-size", "1", "--seq-len", "12", "--steps", "1", "--warmup", "1", "--threads", "1",
                "--use-peft", "--lora-r", "4", "--lora-target-modules", "all-linear", "--base-dtype", "bfloat16", "--gradient-checkpointing");
            Assert.True(code == 0, error);
            var result = JsonDocument.Parse(output.Split('\n').Last(l => l.StartsWith('{'))).RootElement;
            Assert.Contains("bf16 base", result.GetProperty("setup").GetString());
            Assert.True(result.GetProperty("peak_arena_mi_b").GetDouble() > 0);
            Assert.True(double.IsFinite(result.GetProperty("last_loss").GetDouble()));
        }
        finally
        {
            Environment.SetEnvironmentVariable(BenchDpoCommand.RunVariable, null);
        }
    }
}
