// LoRA through the commands: sft/dpo/reward --use-peft write PEFT adapter folders, generate/score/compare --adapter load
// them, merge writes a plain folder equal to base + adapter and refuses to overwrite; bad targets list the modules.
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class LoraCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string sample = DataSamples.HhSample;

    public LoraCommandTests() => model = TinyModels.Create(dir.Sub("model"), context: 128, family: ModelFamilies.Llama);

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output, string Error) Run(params string[] args) => CliRun.Separate(args);

    private string[] Train(string command, string output, params string[] extra) =>
        [command, "--model", model, "--dataset", sample, "--output", output, "--max-steps", "2", "--per-device-train-batch-size", "2",
         "--use-peft", "--lora-r", "4", "--lora-alpha", "8", .. extra];

    [Fact]
    public void SftWithLoraWritesAnAdapterFolderThatGenerateAndMergeLoad()
    {
        string output = dir.Sub("sft-lora");
        var (code, text, error) = Run(Train("sft", output, "--lora-target-modules", "all-linear", "--learning-rate", "1e-2"));
        Assert.True(code == 0, error);
        Assert.Contains("LoRA r=4", text);
        foreach (var file in new[] { "adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "config.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
        var options = PeftAdapterFolder.ReadOptions(output);
        Assert.Equal(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"], options.TargetModules);
        Assert.Equal(model, options.BaseModelNameOrPath);

        // The adapter folder alone is not a model: the error says how to load it.
        var alone = Run("generate", "--model", output, "--prompt", "Hello", "--max-new-tokens", "3");
        Assert.NotEqual(0, alone.Code);
        Assert.Contains("--adapter", alone.Error);

        var generated = Run("generate", "--model", model, "--adapter", output, "--prompt", "Hello", "--max-new-tokens", "4", "--greedy", "--json");
        Assert.True(generated.Code == 0, generated.Error);

        string merged = dir.Sub("merged");
        var merge = Run("merge", "--model", model, "--adapter", output, "--output", merged);
        Assert.True(merge.Code == 0, merge.Error);
        var fromMerged = Run("generate", "--model", merged, "--prompt", "Hello", "--max-new-tokens", "4", "--greedy", "--json");
        Assert.Equal(generated.Output, fromMerged.Output);

        var refused = Run("merge", "--model", model, "--adapter", output, "--output", merged);
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("--overwrite-output-dir", refused.Error);
        Assert.Equal(0, Run("merge", "--model", model, "--adapter", output, "--output", merged, "--overwrite-output-dir").Code);

        // Training further on the adapter.
        var further = Run("sft", "--model", model, "--adapter", output, "--dataset", sample, "--output", dir.Sub("further"), "--max-steps", "1",
            "--per-device-train-batch-size", "2");
        Assert.True(further.Code == 0, further.Error);
    }

    [Fact]
    public void DpoAndRewardWithLoraWriteAdapterFolders()
    {
        string dpo = dir.Sub("dpo-lora");
        var (code, _, error) = Run(Train("dpo", dpo, "--let-me-explain"));
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(dpo, PeftAdapterFolder.WeightsFileName)));

        string reward = dir.Sub("reward-lora");
        var trained = Run(Train("reward", reward));
        Assert.True(trained.Code == 0, trained.Error);
        using (var file = SafeTensors.Open(Path.Combine(reward, PeftAdapterFolder.WeightsFileName)))
            Assert.Contains("base_model.model.score.weight", file.Tensors.Keys);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(reward, PeftAdapterFolder.ConfigFileName)))!;
        Assert.Equal("SEQ_CLS", (string?)config["task_type"]);
        Assert.Equal("score", (string?)config["modules_to_save"]![0]);

        var scored = Run("score", "--reward-model", model, "--adapter", reward, "--prompt", "Hello", "--response", "world", "--json");
        Assert.True(scored.Code == 0, scored.Error);
        string merged = dir.Sub("reward-merged");
        Assert.Equal(0, Run("merge", "--model", model, "--adapter", reward, "--output", merged).Code);
        var fromMerged = Run("score", "--reward-model", merged, "--prompt", "Hello", "--response", "world", "--json");
        Assert.True(fromMerged.Code == 0, fromMerged.Error);
        Assert.Equal(scored.Output, fromMerged.Output);
    }

    [Fact]
    public void PpoAndGrpoWithLoraUseTheBaseAsTheirReference()
    {
        string rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        string prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"What is {i} + 1?\", \"answer\": \"{i + 1}\"}}"));
        string ppo = dir.Sub("ppo-lora");
        var (code, text, error) = Run("ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", ppo,
            "--max-steps", "2", "--per-device-train-batch-size", "4", "--mini-batch-size", "2", "--max-new-tokens", "4", "--use-peft", "--lora-r", "4");
        Assert.True(code == 0, error + text);
        Assert.True(File.Exists(Path.Combine(ppo, PeftAdapterFolder.WeightsFileName)));
        Assert.True(File.Exists(Path.Combine(ppo, PolicyWithValueHead.ValueHeadFileName)));

        string grpo = dir.Sub("grpo-lora");
        var trained = Run("grpo", "--model", model, "--dataset", prompts, "--output", grpo, "--max-steps", "1", "--num-generations", "2",
            "--per-device-train-batch-size", "4", "--max-completion-length", "4", "--reward-numeric", "answer", "--beta", "0.1", "--use-peft");
        Assert.True(trained.Code == 0, trained.Error + trained.Output);
        Assert.True(File.Exists(Path.Combine(grpo, PeftAdapterFolder.ConfigFileName)));
    }

    [Fact]
    public void TargetsMatchingNothingListTheModelsLinearModules()
    {
        var (code, _, error) = Run(Train("sft", dir.Sub("bad"), "--lora-target-modules", "c_attn"));
        Assert.NotEqual(0, code);
        Assert.Contains("matches no module", error);
        Assert.Contains("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", error);
    }
}
