// Every command on a Llama-family folder (GPT-2's vocab.json + merges.txt tokenizer, a tiny random Llama): init with
// explicit sizes, sft → generate, reward → score, dpo, ppo, compare, label (in the terminal) and data inspect.
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

    [Fact]
    public void LabelAndDataInspectAcceptALlamaFolder()
    {
        // data inspect tokenizes through the Llama folder's tokenizer: the length step appears only with --model.
        string[] Steps(params string[] extra)
        {
            var (code, output, error) = CliRun.Separate(["data", "inspect", "--dataset", DataSamples.HhSample, "--json", .. extra]);
            Assert.True(code == 0, error + output);
            string line = output.Split('\n').Last(l => l.StartsWith('{'));
            return JsonNode.Parse(line)!["steps"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToArray();
        }
        var withModel = Steps("--model", model);
        Assert.NotEmpty(withModel.Except(Steps()));

        // label --tui samples 4 responses per prompt from the Llama model, takes one ranking (and an empty flag line), then quits.
        string prompts = dir.Sub("prompts.txt"), feedback = dir.Sub("feedback.jsonl");
        File.WriteAllLines(prompts, ["What is a cat?", "What is a dog?"]);
        var originalInput = Console.In;
        Console.SetIn(new StringReader("2 1 4 3\n\nq\n")); // a ranking, no flags, quit
        try
        {
            var run = Run("label", "--model", model, "--prompts", prompts, "--output", feedback, "--tui", "--k", "4", "--max-new-tokens", "3",
                "--annotator", "tester");
            Assert.True(run.Code == 0, run.Output);
        }
        finally
        {
            Console.SetIn(originalInput);
        }
        var records = new Rlhf.Feedback.FeedbackStore(feedback).Read().Records;
        var record = Assert.Single(records);
        Assert.Equal(4, record.Responses.Count);
        Assert.Equal("tester", record.Annotator);
    }
}
