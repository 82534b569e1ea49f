// GRPO and RLOO on a tiny byte-level GPT-2: the first iteration's ratios are exactly 1, a checked reward rises,
// zero-variance groups leave the weights untouched, an unscorable completion skips the step, and a resumed run
// equals the uninterrupted one.
using Rlhf.Models;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Grpo;
using Xunit;

namespace Rlhf.Tests.Training;

public class GrpoTrainingTests
{
    private static readonly BpeTokenizer Bytes = BpeTrainer.Train(["abc"], 257); // the 256 bytes and <|endoftext|>

    private static readonly Gpt2Config Tiny = new()
    {
        VocabSize = 257, ContextLength = 32, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = 256, EosTokenId = 256,
    };

    private static List<GrpoExample> Prompts(int count, int offset = 0) => Enumerable.Range(offset, count)
        .Select(i => { string text = $"Q{i % 10}:"; return new GrpoExample(Bytes.Encode(text), text, null); }).ToList();

    /// <summary>Reward = the share of the completion's characters that are lower-case letters (10% by chance).</summary>
    private static readonly ICompletionReward LowerCase = new DelegateCompletionReward("lower",
        (_, completion, _) => completion.Length == 0 ? 0 : (double)completion.Count(char.IsAsciiLetterLower) / completion.Length);

    private static GrpoTask Task(GrpoConfig config, ICompletionReward? reward = null, ulong seed = 1)
    {
        var policy = Gpt2Model.CreateRandom(Tiny, seed);
        var reference = config.Beta > 0 ? Gpt2Model.CreateRandom(Tiny, seed) : null;
        return new GrpoTask(policy, reference, Bytes, new RewardSet([reward ?? LowerCase]), config, 256, 256, seed: 5);
    }

    private static TrainingArguments Arguments(string output, GrpoConfig config, int steps, float lr = 3e-3f) => new()
    {
        OutputDir = output, MaxSteps = steps, PerDeviceTrainBatchSize = config.PromptsPerGeneration, LearningRate = lr, SaveSteps = 0, LoggingSteps = 1,
    };

    [Fact]
    public void TheFirstIterationsRatiosAreExactlyOne()
    {
        using var dir = new TempDirectory();
        var config = new GrpoConfig { NumGenerations = 4, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, NumIterations = 2, MaxCompletionLength = 6 };
        using var task = Task(config);
        new TrainingLoop<GrpoExample>(task, Arguments(dir.Path, config, 1), Prompts(8)).Run();
        Assert.NotNull(task.FirstRatios);
        Assert.NotEmpty(task.FirstRatios!);
        Assert.All(task.FirstRatios!, ratio => Assert.Equal(1.0, ratio));
    }

    [Theory]
    [InlineData("grpo")]
    [InlineData("rloo")]
    public void ACheckedRewardRises(string method)
    {
        using var dir = new TempDirectory();
        var config = (method == "rloo" ? GrpoConfig.Rloo with { NumGenerations = 4, Beta = 0.01 } : new GrpoConfig { NumGenerations = 4, LossType = GrpoLossType.Dapo })
            with { PerDeviceTrainBatchSize = 16, GradientAccumulationSteps = 1, MaxCompletionLength = 8 };
        using var task = Task(config);
        var heldOut = Prompts(10, 100);
        double before = task.Evaluate(heldOut, 10)["reward"];
        var result = new TrainingLoop<GrpoExample>(task, Arguments(dir.Path, config, 25, 1e-2f), Prompts(40)).Run();
        double after = task.Evaluate(heldOut, 10)["reward"];
        Assert.True(after > before + 0.4, $"held-out share of lower-case letters {before:F2} → {after:F2}");
        var last = result.LogHistory.Last();
        foreach (var name in new[] { "loss", "reward", "reward_std", "frac_reward_zero_std", "rewards/lower/mean", "rewards/lower/std", "entropy",
                     "completions/mean_length", "completions/clipped_ratio", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean" })
            Assert.True(last.ContainsKey(name), $"metric {name} is logged");
        if (method == "rloo") Assert.True(last.ContainsKey("kl"));
        Assert.Equal(0, result.SkippedSteps);
    }

    [Fact]
    public void ZeroVarianceGroupsGiveNoAdvantageAndLeaveTheWeights()
    {
        using var dir = new TempDirectory();
        var config = new GrpoConfig { NumGenerations = 4, PerDeviceTrainBatchSize = 8, MaxCompletionLength = 4 };
        using var task = Task(config, new DelegateCompletionReward("constant", (_, _, _) => 1));
        var before = task.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        var result = new TrainingLoop<GrpoExample>(task, Arguments(dir.Path, config, 2), Prompts(8)).Run();
        Assert.Equal(1.0, result.LogHistory.Last()["frac_reward_zero_std"]);
        Assert.Equal(0, result.SkippedSteps);
        Assert.Equal(before, task.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray());
    }

    /// <summary>generation_config.json's eos_token_id list ends completions too: with every byte a stop id, each
    /// completion is one token long (without them the random policy writes up to the length limit).</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CompletionsStopOnAnyIdOfTheStopList(bool stopOnEveryByte)
    {
        using var dir = new TempDirectory();
        var config = new GrpoConfig { NumGenerations = 2, PerDeviceTrainBatchSize = 4, MaxCompletionLength = 6 };
        var lengths = new List<int>();
        var policy = Gpt2Model.CreateRandom(Tiny, 1);
        using var task = new GrpoTask(policy, null, Bytes, new RewardSet([new DelegateCompletionReward("length", (_, c, _) => { lock (lengths) lengths.Add(c.Length); return c.Length; })]),
            config, 256, 256, seed: 5) { StopTokenIds = stopOnEveryByte ? [.. Enumerable.Range(0, 256)] : [] };
        new TrainingLoop<GrpoExample>(task, Arguments(dir.Path, config, 1), Prompts(2)).Run();
        Assert.NotEmpty(lengths);
        if (stopOnEveryByte) Assert.All(lengths, l => Assert.InRange(l, 0, 1)); // one byte: one character (or U+FFFD), none for EOS
        else Assert.Contains(lengths, l => l > 1);
    }

    [Fact]
    public void AnUnscorableCompletionSkipsTheStepAndNamesThePrompt()
    {
        using var dir = new TempDirectory();
        var config = new GrpoConfig { NumGenerations = 2, PerDeviceTrainBatchSize = 4, MaxCompletionLength = 4 };
        var warnings = new List<string>();
        var policy = Gpt2Model.CreateRandom(Tiny, 1);
        using var task = new GrpoTask(policy, null, Bytes, new RewardSet([new DelegateCompletionReward("broken", (p, _, _) => p == "Q1:" ? double.NaN : 1)]),
            config, 256, 256, seed: 5) { Warn = warnings.Add };
        var before = task.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        var result = new TrainingLoop<GrpoExample>(task, Arguments(dir.Path, config, 1), Prompts(2)).Run();
        Assert.Equal(1, result.SkippedSteps);
        Assert.Contains(warnings, w => w.Contains("prompt 'Q1:'"));
        Assert.Equal(before, task.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray());
    }

    [Fact]
    public void AResumedRunEqualsTheUninterruptedOne()
    {
        var config = new GrpoConfig { NumGenerations = 2, PerDeviceTrainBatchSize = 4, MaxCompletionLength = 5, NumIterations = 2 };
        var prompts = Prompts(8);
        using var straight = new TempDirectory();
        using (var task = Task(config))
            new TrainingLoop<GrpoExample>(task, Arguments(straight.Path, config, 4), prompts) { ExtraState = task.State, RestoreExtraState = task.Restore }.Run();

        using var resumed = new TempDirectory();
        using (var task = Task(config))
        {
            using var cancel = new CancellationTokenSource();
            new TrainingLoop<GrpoExample>(task, Arguments(resumed.Path, config, 4), prompts)
            {
                ExtraState = task.State, RestoreExtraState = task.Restore,
                Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 2) cancel.Cancel(); }),
            }.Run(cancel.Token);
        }
        using (var task = Task(config))
            new TrainingLoop<GrpoExample>(task, Arguments(resumed.Path, config, 4) with { ResumeFromCheckpoint = "latest" }, prompts)
            { ExtraState = task.State, RestoreExtraState = task.Restore }.Run();
        using var a = Gpt2Model.Load(straight.Path);
        using var b = Gpt2Model.Load(resumed.Path);
        foreach (var p in a.Parameters.Parameters) Assert.Equal(p.Value.ToArray(), b.Parameters[p.Name].Value.ToArray());
    }
}
