// `rlhf ppo` end to end on tiny folders: a reward model from `rlhf reward`, a few PPO rollouts, TRL metric names,
// a policy folder that stays a plain causal LM (value head beside it), and clear errors for bad inputs.
using Rlhf.Cli;
using Rlhf.Models;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class PpoCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string rewardModel;
    private readonly string prompts;

    public PpoCommandTests()
    {
        model = TinyModels.Create(dir.Sub("model"), context: 128);
        rewardModel = dir.Sub("rm");
        Assert.Equal(0, Run("reward", "--model", model, "--dataset", DataSamples.HhSample, "--output", rewardModel, "--max-steps", "2",
            "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "1").Code);
        prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 12).Select(i => $"{{\"prompt\": \"What is the capital of France? {i}\"}}"));
    }

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output) Run(params string[] args) => CliRun.Combined(args);

    [SkippableFact]
    public void PpoRunsWithABFloat16ReferenceAndGradientCheckpointing()
    {
        Skip.IfNot(Rlhf.Models.InferenceWeights.Supported, "a bf16 frozen reference needs AVX-512");
        var (code, text) = Run("ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("ppo-bf16"),
            "--max-steps", "1", "--per-device-train-batch-size", "4", "--mini-batch-size", "2", "--num-ppo-epochs", "1", "--max-new-tokens", "4",
            "--base-dtype", "bfloat16", "--gradient-checkpointing");
        Assert.True(code == 0, text);
        Assert.Contains("objective/kl", File.ReadAllText(Path.Combine(dir.Sub("ppo-bf16"), "metrics.jsonl")));
    }

    [Fact]
    public void PpoTrainsAndSavesAPlainPolicyWithItsValueHead()
    {
        string output = dir.Sub("ppo");
        var (code, text) = Run("ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", output,
            "--max-steps", "2", "--per-device-train-batch-size", "4", "--mini-batch-size", "2", "--gradient-accumulation-steps", "2",
            "--num-ppo-epochs", "2", "--max-new-tokens", "4", "--learning-rate", "1e-4", "--eval-split", "0.25");
        Assert.True(code == 0, text);
        var metrics = File.ReadAllText(Path.Combine(output, "metrics.jsonl"));
        foreach (var name in new[] { "objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
                     "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/ratio", "val/num_eos_tokens", "kl_coef", "\"lr\"", "episode" })
            Assert.Contains(name, metrics);
        Assert.True(File.Exists(Path.Combine(output, "value_head.safetensors")));
        Assert.True(File.Exists(Path.Combine(output, "rlhf_config.yaml")));
        using (var plain = Gpt2Model.Load(output)) Assert.False(plain.Parameters.TryGet("v_head.summary.weight", out _));
        Assert.Equal(0, Run("generate", "--model", output, "--prompt", "### Question: Hello\n### Answer: ", "--max-new-tokens", "3").Code);
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var (code, text) = Run("ppo", "--model", model, "--reward-model", model, "--dataset", prompts, "--output", dir.Sub("x"), "--max-steps", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("reward model", text);
        File.WriteAllLines(dir.Sub("long.txt"), [string.Concat(Enumerable.Repeat("hello world ", 200))]);
        (code, text) = Run("ppo", "--model", model, "--reward-model", rewardModel, "--dataset", dir.Sub("long.txt"), "--output", dir.Sub("y"), "--max-steps", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("No usable prompts", text);
    }
}

[Collection("Console")]
public class FeedbackConvertTests
{
    [Fact]
    public void LabelOutputConvertsToPairsWithoutTiedOnes()
    {
        using var dir = new TempDirectory();
        string feedback = dir.Sub("feedback.jsonl");
        // Ranked best-first A > B = C > D: the tie B = C gives no pair, so 6 − 1 = 5 pairs.
        File.WriteAllText(feedback, """
            {"prompt_id":"0123456789abcdef","prompt":"Say hi","rendered_prompt":"### Question: Say hi\n### Answer: ","responses":["A","B","C","D"],"ties":[[1,2]],"flags":[[],[],[],["harmful"]],"annotator":"ann","model":"m","timestamp":"2026-11-22T00:00:00+00:00","sampling":{"temperature":1,"top_p":1,"max_new_tokens":8,"seed":0}}

            """);
        string pairs = dir.Sub("pairs.jsonl");
        using (new ConsoleCapture()) Assert.Equal(0, RlhfApp.Run(["data", "convert", "--dataset", feedback, "--output", pairs]));
        var lines = File.ReadAllLines(pairs);
        Assert.Equal(5, lines.Length);
        Assert.DoesNotContain(lines, l => l.Contains("\"chosen\":\"B\"") && l.Contains("\"rejected\":\"C\""));
        Assert.Contains(lines, l => l.Contains("\"chosen\":\"A\"") && l.Contains("\"rejected\":\"D\""));
    }
}
