// Every command on a Llama-family folder (GPT-2's vocab.json + merges.txt tokenizer, a tiny random Llama): init with
// explicit sizes, sft → generate, reward → score, dpo, ppo, compare.
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Models.Llama;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class LlamaFolderCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;

    public LlamaFolderCommandTests() => model = TinyModels.Create(dir.Sub("llama"), context: 128, family: ModelFamilies.Llama);

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output) Run(params string[] args) => CliRun.Combined(args);

    [Fact]
    public void InitWritesAQwen2OfExplicitSizesThatLoads()
    {
        string output = dir.Sub("qwen2");
        var (code, text) = Run("init", "--output", output, "--model-type", "qwen2", "--n-layer", "1", "--n-embd", "32", "--n-head", "4",
            "--num-key-value-heads", "2", "--intermediate-size", "48", "--vocab-size", "320", "--n-positions", "64", "--save-dtype", "bfloat16");
        Assert.True(code == 0, text);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal("qwen2", config["model_type"]!.GetValue<string>());
        Assert.Equal("Qwen2ForCausalLM", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(2, config["num_key_value_heads"]!.GetValue<int>());
        using var loaded = CausalLmRegistry.Load(output);
        Assert.True(loaded.Parameters.TryGet("model.layers.0.self_attn.q_proj.bias", out _));

        var bad = Run("init", "--output", dir.Sub("bad"), "--model-type", "llama", "--n-head", "4", "--num-key-value-heads", "3");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("num_key_value_heads", bad.Output);
        Assert.False(Directory.Exists(dir.Sub("bad")) && Directory.EnumerateFiles(dir.Sub("bad")).Any());
        var unknown = Run("init", "--output", dir.Sub("bad"), "--preset", "llama-70b");
        Assert.NotEqual(0, unknown.Code);
        Assert.Contains("smollm2-135m", unknown.Output);
    }

    [Fact]
    public void SftRewardScoreDpoPpoAndCompareRunOnALlamaFolder()
    {
        string sample = DataSamples.HhSample;
        string sft = dir.Sub("sft"), rm = dir.Sub("rm"), dpo = dir.Sub("dpo"), ppo = dir.Sub("ppo");
        var run = Run("sft", "--model", model, "--dataset", sample, "--output", sft, "--max-steps", "2", "--per-device-train-batch-size", "2");
        Assert.True(run.Code == 0, run.Output);
        Assert.Equal("llama", JsonNode.Parse(File.ReadAllText(Path.Combine(sft, "config.json")))!["model_type"]!.GetValue<string>());
        run = Run("generate", "--model", sft, "--prompt", "### Question: Hello\n### Answer: ", "--max-new-tokens", "3");
        Assert.True(run.Code == 0, run.Output);

        run = Run("reward", "--model", model, "--dataset", sample, "--output", rm, "--max-steps", "2", "--per-device-train-batch-size", "2");
        Assert.True(run.Code == 0, run.Output);
        Assert.Equal("LlamaForSequenceClassification", JsonNode.Parse(File.ReadAllText(Path.Combine(rm, "config.json")))!["architectures"]![0]!.GetValue<string>());
        run = Run("score", "--reward-model", rm, "--prompt", "Hi", "--response", "Hello.");
        Assert.True(run.Code == 0, run.Output);

        run = Run("dpo", "--model", sft, "--dataset", sample, "--output", dpo, "--max-steps", "2", "--per-device-train-batch-size", "2");
        Assert.True(run.Code == 0, run.Output);

        string prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"### Question: Tell me fact {i}.\\n### Answer: \"}}"));
        run = Run("ppo", "--model", sft, "--reward-model", rm, "--dataset", prompts, "--output", ppo, "--max-steps", "1",
            "--per-device-train-batch-size", "4", "--mini-batch-size", "2", "--max-new-tokens", "3");
        Assert.True(run.Code == 0, run.Output);
        Assert.True(File.Exists(Path.Combine(ppo, "value_head.safetensors")));
        using (var policy = CausalLmRegistry.Load(ppo)) Assert.IsType<LlamaModel>(policy);

        run = Run("compare", "--models", sft, dpo, "--prompt", "How do I boil an egg?", "--max-new-tokens", "3");
        Assert.True(run.Code == 0, run.Output);
    }
}
