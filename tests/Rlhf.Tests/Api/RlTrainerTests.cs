// PpoTrainer and GrpoTrainer on tiny folders: they run the CLI's pipeline (the same weights as `rlhf ppo` / `rlhf grpo`
// given the same settings), report progress in order with finite metrics, repeat themselves given a seed, and GRPO
// learns a trivially learnable C# reward.
using Rlhf.Models;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Grpo;
using Rlhf.Training.Ppo;
using Xunit;

namespace Rlhf.Tests.Api;

[Collection("Console")]
public sealed class RlTrainerTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string rewardModel;
    private readonly string prompts;

    public RlTrainerTests()
    {
        model = TinyModels.Create(dir.Sub("model"), layers: 1, context: 64);
        rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"What is the capital of France? {i}\"}}"));
    }

    public void Dispose() => dir.Dispose();

    private TrainingArguments PpoArguments(string output) => PpoTrainer.DefaultArguments with
    {
        OutputDir = dir.Sub(output), MaxSteps = 2, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-3f, Seed = 7, SaveSteps = 0,
    };

    private static readonly PpoConfig Ppo = new() { MiniBatchSize = 2, NumPpoEpochs = 2, MaxNewTokens = 4 };

    private TrainingArguments GrpoArguments(string output, int steps = 2) => GrpoTrainer.DefaultArguments with
    {
        OutputDir = dir.Sub(output), MaxSteps = steps, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-3f, Seed = 7, SaveSteps = 0,
    };

    private static readonly GrpoConfig Grpo = GrpoConfig.Grpo with { NumGenerations = 4, MaxCompletionLength = 4, NumIterations = 2, Beta = 0.05 };

    /// <summary>The weights of a saved policy folder, by name.</summary>
    private static Dictionary<string, float[]> Weights(string folder)
    {
        using var loaded = Gpt2Model.Load(folder);
        return loaded.Parameters.Parameters.ToDictionary(p => p.Name, p => p.Value.Span.ToArray());
    }

    private static void AssertSameWeights(string expectedFolder, LanguageModel actual)
    {
        var expected = Weights(expectedFolder);
        var parameters = actual.Folder.Model.Parameters.Parameters;
        Assert.Equal(expected.Count, parameters.Count);
        foreach (var p in parameters) Assert.True(expected[p.Name].AsSpan().SequenceEqual(p.Value.Span), $"{p.Name} differs");
    }

    /// <summary>Events arrive on the training thread from the trainer, steps counting up, the named metrics finite.</summary>
    private static List<TrainingProgress> Record(Action<EventHandler<TrainingProgress>> subscribe, object trainer)
    {
        var events = new List<TrainingProgress>();
        subscribe((sender, p) =>
        {
            Assert.Same(trainer, sender);
            events.Add(p);
        });
        return events;
    }

    private static void AssertInOrderAndFinite(List<TrainingProgress> events, int steps, params string[] metrics)
    {
        var logs = events.Where(e => e.Event == "log").ToArray();
        Assert.Equal(Enumerable.Range(1, steps), logs.Select(e => e.Step));
        Assert.All(events, e => Assert.Equal(steps, e.TotalSteps));
        foreach (var log in logs)
            foreach (var name in metrics)
                Assert.True(double.IsFinite(log.Metrics[name]), $"step {log.Step}: {name} = {log.Metrics.GetValueOrDefault(name, double.NaN)}");
    }

    [Fact]
    public void PpoTrainsTheWeightsRlhfPpoTrainsWithTheSameSettingsAndReportsEachStep()
    {
        var (code, text) = CliRun.Combined("ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("cli-ppo"),
            "--max-steps", "2", "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "2", "--mini-batch-size", "2",
            "--num-ppo-epochs", "2", "--max-new-tokens", "4", "--learning-rate", "1e-3", "--seed", "7", "--save-steps", "0");
        Assert.True(code == 0, text);

        using var policy = LanguageModel.Load(model);
        using var reward = RewardScorer.Load(rewardModel);
        var trainer = new PpoTrainer(policy, reward, PpoArguments("api-ppo"), Ppo);
        var events = Record(h => trainer.Progress += h, trainer);
        var result = trainer.Train(Datasets.ReadPrompts(prompts));

        Assert.Equal(2, result.GlobalStep);
        AssertInOrderAndFinite(events, 2, "objective/scores", "objective/kl", "loss/policy_avg", "loss/value_avg", "kl_coef");
        AssertSameWeights(dir.Sub("cli-ppo"), policy); // trained in place, as the CLI trains
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Sub("cli-ppo"), "value_head.safetensors")),
            File.ReadAllBytes(Path.Combine(dir.Sub("api-ppo"), "value_head.safetensors")));
        using var untrained = LanguageModel.Load(model);
        Assert.False(untrained.Folder.Model.Parameters.Parameters[0].Value.Span.SequenceEqual(policy.Folder.Model.Parameters.Parameters[0].Value.Span));
    }

    [Fact]
    public void GrpoWithARewardModelTrainsTheWeightsRlhfGrpoTrains()
    {
        var (code, text) = CliRun.Combined("grpo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("cli-grpo"),
            "--max-steps", "2", "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "2", "--num-generations", "4",
            "--max-completion-length", "4", "--num-iterations", "2", "--beta", "0.05", "--learning-rate", "1e-3", "--seed", "7", "--save-steps", "0");
        Assert.True(code == 0, text);

        using var policy = LanguageModel.Load(model);
        using var reward = RewardScorer.Load(rewardModel);
        var trainer = new GrpoTrainer(policy, reward, GrpoArguments("api-grpo"), Grpo);
        var events = Record(h => trainer.Progress += h, trainer);
        trainer.Train(Datasets.ReadPrompts(prompts));

        AssertInOrderAndFinite(events, 2, "reward", "rewards/reward_model/mean", "loss", "kl");
        AssertSameWeights(dir.Sub("cli-grpo"), policy);
    }

    [Fact]
    public void RlooIsGrpoWithTheLeaveOneOutBaselineAndRepeatsGivenASeed()
    {
        Dictionary<string, float[]> Run(string output)
        {
            using var policy = LanguageModel.Load(model);
            var trainer = new GrpoTrainer(policy, (_, completion) => completion.Count(c => c == 'e'), GrpoArguments(output), GrpoConfig.Rloo with { NumGenerations = 4, MaxCompletionLength = 4 });
            var events = Record(h => trainer.Progress += h, trainer);
            trainer.Train(Datasets.ReadPrompts(prompts));
            AssertInOrderAndFinite(events, 2, "reward", "rewards/reward/mean", "loss", "kl");
            return policy.Folder.Model.Parameters.Parameters.ToDictionary(p => p.Name, p => p.Value.Span.ToArray());
        }
        var first = Run("rloo-1");
        var second = Run("rloo-2");
        foreach (var (name, values) in first) Assert.True(values.AsSpan().SequenceEqual(second[name]), $"{name} differs between two seeded runs");
    }

    [Fact]
    public void GrpoRaisesTheMeanOfATriviallyLearnableCSharpReward()
    {
        // The share of the completion's characters that are 'e': a dense reward a 1-layer model learns in a few steps.
        static double ShareOfE(string prompt, string completion) => completion.Length == 0 ? 0 : (double)completion.Count(c => c == 'e') / completion.Length;
        using var policy = LanguageModel.Load(model);
        var trainer = new GrpoTrainer(policy, ShareOfE, GrpoArguments("learn", steps: 40) with { LearningRate = 1e-2f, LrSchedulerType = "constant" },
            GrpoConfig.Grpo with { NumGenerations = 4, MaxCompletionLength = 8 });
        var result = trainer.Train(Datasets.ReadPrompts(prompts));
        var rewards = result.LogHistory.Where(h => h.ContainsKey("reward")).Select(h => h["reward"]).ToArray();
        Assert.Equal(40, rewards.Length);
        double early = rewards.Take(5).Average(), late = rewards.TakeLast(5).Average();
        Assert.True(late > early + 0.1, $"mean reward went {early:F3} → {late:F3} ({string.Join(", ", rewards.Select(r => r.ToString("F2")))})");
    }

    [Fact]
    public void CancellationStopsAfterTheCurrentStepWithACheckpoint()
    {
        using var policy = LanguageModel.Load(model);
        using var cancel = new CancellationTokenSource();
        var trainer = new GrpoTrainer(policy, (_, c) => c.Length, GrpoArguments("cancelled", steps: 5), Grpo with { Beta = 0 });
        trainer.Progress += (_, p) => { if (p.Event == "step" || p.Event == "log") cancel.Cancel(); };
        var result = trainer.Train(Datasets.ReadPrompts(prompts), cancellation: cancel.Token);
        Assert.True(result.Interrupted);
        Assert.Equal(1, result.GlobalStep);
        Assert.NotNull(result.LastCheckpoint);
    }
}
