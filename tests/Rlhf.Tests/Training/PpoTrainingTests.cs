// PPO on tiny models: the first minibatch's ratio is exactly 1, a known reward is learned with bounded KL,
// the KL coefficient adapts and survives a checkpoint, and a bad reward skips the step.
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Ppo;
using Xunit;

namespace Rlhf.Tests.Training;

public class PpoTrainingTests
{
    private const int Eos = 15, Target = 9;

    private static readonly Gpt2Config Gpt2Tiny = new()
    {
        VocabSize = 16, ContextLength = 24, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = Eos, EosTokenId = Eos,
    };

    private static CausalLmConfig Tiny(string family) => ModelFamilies.Tiny(family, Gpt2Tiny);

    private static List<int[]> Prompts(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 2 + rng.NextInt(3)).Select(_ => 1 + rng.NextInt(12)).ToArray()).ToList();
    }

    /// <summary>Reward = how often the response says token 9 (the task the policy must discover).</summary>
    private static readonly IRewardFunction CountTarget = new DelegateRewardFunction((_, response, _) => response.Count(t => t == Target));

    private static PpoTask Task(string family, PpoConfig config, IRewardFunction? reward = null, ulong seed = 1, ulong? referenceSeed = null)
    {
        var policy = PolicyWithValueHead.CreateRandom(Tiny(family), seed);
        // Same seed, same backbone (heads are initialised last): the reference is the starting policy.
        var reference = referenceSeed is ulong other
            ? CausalLmRegistry.CreateRandom(Tiny(family) with { InitializerRange = 0.5f }, other) // sharp and unlike the policy
            : CausalLmRegistry.CreateRandom(Tiny(family), seed);
        if (referenceSeed is null)
            foreach (var p in reference.Parameters.Parameters) Assert.Equal(p.Value.ToArray(), policy.Model.Parameters[p.Name].Value.ToArray());
        return new PpoTask(policy, reference, reward ?? CountTarget, config, Eos, Eos, seed: 3);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void TheFirstMinibatchRatioIsExactlyOne(string family)
    {
        using var dir = new TempDirectory();
        using var task = Task(family, new PpoConfig { BatchSize = 8, MiniBatchSize = 4, GradientAccumulationSteps = 1, NumPpoEpochs = 2, MaxNewTokens = 6 });
        var args = new TrainingArguments { OutputDir = dir.Path, MaxSteps = 2, PerDeviceTrainBatchSize = 8, LearningRate = 1e-3f, SaveSteps = 0, LoggingSteps = 1 };
        new TrainingLoop<int[]>(task, args, Prompts(16, 1)).Run();
        var first = task.FirstMinibatchMetrics!;
        Assert.Equal(1.0, first["val/ratio"]);
        Assert.Equal(0.0, first["policy/approxkl_avg"]);
        Assert.Equal(0.0, first["policy/clipfrac_avg"]);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void AKnownRewardRisesWhileKlStaysBounded(string family)
    {
        using var dir = new TempDirectory();
        using var task = Task(family, new PpoConfig { BatchSize = 16, MiniBatchSize = 8, GradientAccumulationSteps = 2, MaxNewTokens = 8, InitKlCoef = 0.05, KlControl = KlControl.Fixed });
        var prompts = Prompts(64, 2);
        var heldOut = Prompts(32, 3);
        double before = task.Evaluate(heldOut, 16)["objective/scores"];
        var args = new TrainingArguments { OutputDir = dir.Path, MaxSteps = 30, PerDeviceTrainBatchSize = 16, LearningRate = 3e-3f, SaveSteps = 0, LoggingSteps = 5 };
        var result = new TrainingLoop<int[]>(task, args, prompts) { LearningRateMetric = "lr" }.Run();
        var after = task.Evaluate(heldOut, 16);
        Assert.True(after["objective/scores"] > before + 1.5, $"held-out mean reward {before:F2} → {after["objective/scores"]:F2}");
        Assert.InRange(after["objective/kl"], 0, 25);
        var last = result.LogHistory.Last();
        foreach (var name in new[] { "objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
                     "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/ratio", "val/num_eos_tokens", "kl_coef", "lr", "episode" })
            Assert.True(last.ContainsKey(name), $"metric {name} is logged");
        Assert.Equal(30 * 16, last["episode"]); // counters are logged at their latest value, not averaged
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void TheKlCoefficientAdaptsAndIsCheckpointed(string family)
    {
        using var dir = new TempDirectory();
        // A reference unlike the policy: the KL is far above a tiny target at every rollout.
        var config = new PpoConfig { BatchSize = 8, MiniBatchSize = 8, GradientAccumulationSteps = 1, NumPpoEpochs = 1, MaxNewTokens = 4, KlControl = KlControl.Seed, Target = 1e-6, InitKlCoef = 0.4 };
        using (var task = Task(family, config, referenceSeed: 77))
        {
            using var cancel = new CancellationTokenSource();
            var loop = new TrainingLoop<int[]>(task, new TrainingArguments { OutputDir = dir.Path, MaxSteps = 4, PerDeviceTrainBatchSize = 8, LearningRate = 1e-2f, SaveSteps = 0 }, Prompts(32, 4))
            {
                ExtraState = task.State, RestoreExtraState = task.Restore,
                Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 2) cancel.Cancel(); }),
            };
            loop.Run(cancel.Token);
            // KL far above a tiny target doubles β after each rollout (the InstructGPT notes' rule).
            Assert.Equal(0.4 * 4, task.KlCoefficient, 1e-12);
        }
        using var resumed = Task(family, config, referenceSeed: 77);
        new TrainingLoop<int[]>(resumed, new TrainingArguments { OutputDir = dir.Path, MaxSteps = 4, PerDeviceTrainBatchSize = 8, LearningRate = 1e-2f, SaveSteps = 0, ResumeFromCheckpoint = "latest" }, Prompts(32, 4))
        {
            ExtraState = resumed.State, RestoreExtraState = resumed.Restore,
        }.Run();
        Assert.Equal(0.4 * 16, resumed.KlCoefficient, 1e-12);
        Assert.Equal(32, resumed.Episode);
        Assert.True(File.Exists(Path.Combine(dir.Path, PolicyWithValueHead.ValueHeadFileName)));
        using var reloaded = PolicyWithValueHead.Load(dir.Path, seed: 0);
        Assert.Equal(resumed.Policy.Model.Parameters[PolicyWithValueHead.WeightName].Value.ToArray(), reloaded.Model.Parameters[PolicyWithValueHead.WeightName].Value.ToArray());
        using var plain = CausalLmRegistry.Load(dir.Path); // the policy folder stays a plain causal LM
        Assert.False(plain.Parameters.TryGet(PolicyWithValueHead.WeightName, out _));
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ASingleTokenRolloutTrainsWithoutWhitening(string family)
    {
        using var dir = new TempDirectory();
        using var task = Task(family, new PpoConfig { BatchSize = 1, MiniBatchSize = 1, GradientAccumulationSteps = 1, NumPpoEpochs = 1, MaxNewTokens = 1 });
        var result = new TrainingLoop<int[]>(task, new TrainingArguments { OutputDir = dir.Path, MaxSteps = 2, PerDeviceTrainBatchSize = 1, SaveSteps = 0, LoggingSteps = 1 }, Prompts(4, 6)).Run();
        Assert.Equal(0, result.SkippedSteps);
        Assert.Equal(2, result.GlobalStep);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ANonFiniteRewardSkipsTheStepAndLeavesTheWeights(string family)
    {
        using var dir = new TempDirectory();
        var broken = new DelegateRewardFunction((_, _, _) => float.NaN);
        using var task = Task(family, new PpoConfig { BatchSize = 8, MiniBatchSize = 8, GradientAccumulationSteps = 1, MaxNewTokens = 4 }, broken);
        var before = task.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        var result = new TrainingLoop<int[]>(task, new TrainingArguments { OutputDir = dir.Path, MaxSteps = 2, PerDeviceTrainBatchSize = 8, SaveSteps = 0 }, Prompts(16, 5)).Run();
        Assert.Equal(2, result.SkippedSteps);
        Assert.Equal(before, task.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray());
    }
}
