// Reward models: pooling from the mask with either padding side, whole-model gradients, learning a preference,
// saving in the sequence-classification layout and rejecting wrong folders.
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Reward;
using Xunit;

namespace Rlhf.Tests.Training;

public class RewardModelTests
{
    private static readonly Gpt2Config Gpt2Tiny = new()
    {
        VocabSize = 20, ContextLength = 16, EmbeddingSize = 16, LayerCount = 2, HeadCount = 2, BosTokenId = 19, EosTokenId = 19,
    };

    private static CausalLmConfig Tiny(string family) => ModelFamilies.Tiny(family, Gpt2Tiny);

    private static float[] Rewards(RewardModel model, int length, int[] ids, float[] mask)
    {
        using var arena = new Arena();
        var batch = new CausalLmBatch(ids.Length / length, length, ids, mask);
        return model.Rewards(new Ops(arena, new Tape { Enabled = false }), batch, trainable: false).Value.ToArray();
    }

    [Theory]
    [InlineData(RewardPooling.LastToken, ModelFamilies.Gpt2)]
    [InlineData(RewardPooling.LastToken, ModelFamilies.Llama)]
    [InlineData(RewardPooling.FirstToken, ModelFamilies.Gpt2)]
    [InlineData(RewardPooling.FirstToken, ModelFamilies.Llama)]
    [InlineData(RewardPooling.Mean, ModelFamilies.Gpt2)]
    [InlineData(RewardPooling.Mean, ModelFamilies.Llama)]
    public void PoolingReadsRealTokensWhateverThePaddingSide(RewardPooling pooling, string family)
    {
        using var model = RewardModel.CreateRandom(Tiny(family) with { InitializerRange = 0.3f }, pooling, seed: 2);
        float alone = Rewards(model, 4, [3, 5, 7, 9], [1, 1, 1, 1])[0];
        float right = Rewards(model, 6, [3, 5, 7, 9, 19, 19], [1, 1, 1, 1, 0, 0])[0];
        float left = Rewards(model, 6, [19, 19, 3, 5, 7, 9], [0, 0, 1, 1, 1, 1])[0];
        float otherPads = Rewards(model, 6, [0, 11, 3, 5, 7, 9], [0, 0, 1, 1, 1, 1])[0];
        Assert.Equal(alone, right, 1e-5f);
        Assert.Equal(alone, left, 1e-5f);
        Assert.Equal(alone, otherPads, 1e-5f);
        // A different last/first token changes the reward: the pooled position really is a real token.
        int[] changed = pooling == RewardPooling.FirstToken ? [4, 5, 7, 9] : [3, 5, 7, 10];
        Assert.NotEqual(alone, Rewards(model, 4, changed, [1, 1, 1, 1])[0]);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ARowWithoutRealTokensCannotBeScored(string family)
    {
        using var model = RewardModel.CreateRandom(Tiny(family), RewardPooling.LastToken, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => Rewards(model, 3, [1, 2, 3, 19, 19, 19], [1, 1, 1, 0, 0, 0]));
        Assert.Contains("no real tokens", error.Message);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void GradientsOfThePairwiseLossMatchFiniteDifferences(string family)
    {
        using var model = RewardModel.CreateRandom(Tiny(family) with { InitializerRange = 0.4f }, RewardPooling.LastToken, seed: 4);
        using var task = new RewardTask(model, new RewardConfig { CenterRewardsCoefficient = 0.1f }, padTokenId: 19);
        RewardExample[] examples = [new([[1, 2, 3], [1, 2, 4, 5]], Margin: 0.5f), new([[6, 7], [6, 8, 9]])];
        task.TrainStep([examples]);
        double Loss() => task.Evaluate(examples, 4)["loss"];
        foreach (var name in ModelFamilies.SampleParameters(family).Prepend(RewardModel.HeadName))
        {
            var parameter = model.Model.Parameters[name];
            FiniteDifference.Check(name, parameter.Value.Span, parameter.Gradient.ToArray(), Loss, step: 1e-2, absTol: 5e-4, relTol: 3e-2, maxChecks: 30);
        }
    }

    /// <summary>Preferred responses contain token 7; the model must learn that from pairs (or ranked lists).</summary>
    private static List<RewardExample> PreferenceTask(int count, ulong seed, int k)
    {
        var rng = new Rng(seed);
        var examples = new List<RewardExample>();
        for (int i = 0; i < count; i++)
        {
            int[] prompt = [1 + rng.NextInt(5), 1 + rng.NextInt(5)];
            int[] Response(int sevens) => Enumerable.Range(0, 4).Select(j => j < sevens ? 7 : 8 + rng.NextInt(10)).OrderBy(_ => rng.NextInt(100)).ToArray();
            examples.Add(new RewardExample(Enumerable.Range(0, k).Select(j => prompt.Concat(Response(k - 1 - j)).ToArray()).ToArray()));
        }
        return examples;
    }

    [Theory]
    [InlineData(RewardLossType.Pairwise, 2, ModelFamilies.Gpt2)]
    [InlineData(RewardLossType.Pairwise, 2, ModelFamilies.Llama)]
    [InlineData(RewardLossType.KWise, 3, ModelFamilies.Gpt2)]
    [InlineData(RewardLossType.KWise, 3, ModelFamilies.Llama)]
    public void ATinyPreferenceIsLearnedToHeldOutAccuracyAbove95Percent(RewardLossType lossType, int k, string family)
    {
        using var dir = new TempDirectory();
        using var model = RewardModel.CreateRandom(Tiny(family), RewardPooling.LastToken, seed: 6);
        using var task = new RewardTask(model, new RewardConfig { LossType = lossType }, padTokenId: 19);
        var args = new TrainingArguments { OutputDir = dir.Path, NumTrainEpochs = 4, PerDeviceTrainBatchSize = 16, LearningRate = 3e-3f, LoggingSteps = 10, SaveSteps = 0 };
        var result = new TrainingLoop<RewardExample>(task, args, PreferenceTask(400, 1, k), PreferenceTask(100, 2, k)).Run();
        var eval = result.LogHistory.Last();
        Assert.True(eval["eval_accuracy"] >= 0.95, $"held-out accuracy {eval["eval_accuracy"]:P1}");
        Assert.True(eval["eval_margin"] > 0);

        // Saved as the family's *ForSequenceClassification; loads back with the same scores.
        using var loaded = RewardModel.Load(dir.Path);
        Assert.Equal(loaded.Model.Config.SequenceClassificationArchitectureName, loaded.Model.Config.Architecture);
        Assert.EndsWith("ForSequenceClassification", loaded.Model.Config.Architecture);
        int[] sample = [1, 2, 7, 9, 7, 10];
        Assert.Equal(Rewards(model, 6, sample, [1, 1, 1, 1, 1, 1]), Rewards(loaded, 6, sample, [1, 1, 1, 1, 1, 1]));
        Assert.Contains($"\"{loaded.Model.Config.Architecture}\"", File.ReadAllText(Path.Combine(dir.Path, "config.json")));
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void WrongFoldersAreRejectedClearly(string family)
    {
        using var dir = new TempDirectory();
        using (var lm = CausalLmRegistry.CreateRandom(Tiny(family), 1)) lm.Save(dir.Sub("lm"));
        var error = Assert.Throws<ModelFormatException>(() => RewardModel.Load(dir.Sub("lm")));
        Assert.Contains("not a reward model", error.Message);

        // A causal LM folder gets a fresh head instead.
        using (var fresh = RewardModel.LoadOrCreate(dir.Sub("lm"), RewardPooling.LastToken, seed: 3))
            Assert.Equal([1, 16], fresh.Model.Parameters[RewardModel.HeadName].Value.Shape);

        // A head of the wrong shape (two labels) is refused with the tensor's name.
        using (var rm = RewardModel.CreateRandom(Tiny(family), RewardPooling.LastToken, 1)) rm.Save(dir.Sub("rm"));
        var weights = Path.Combine(dir.Sub("rm"), "model.safetensors");
        using (var model = CausalLmRegistry.Load(dir.Sub("rm"), [("score.weight", [1, 16], true)]))
        {
            var tensors = model.Parameters.Parameters.Where(p => p.Name != "score.weight").Select(p => (p.Name, p.Value)).ToList();
            tensors.Add(("score.weight", Tensor.Zeros(2, 16)));
            SafeTensors.Write(weights, tensors);
        }
        var shape = Assert.Throws<ModelFormatException>(() => RewardModel.Load(dir.Sub("rm")));
        Assert.Contains("score.weight", shape.Message);
    }
}
