// DPO on tiny models: whole-model gradients, precomputed vs live reference, the preference is learned, bad inputs.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Xunit;

namespace Rlhf.Tests.Training;

public class DpoTrainingTests
{
    private const int Eos = 15, Let = 13;

    private static readonly Gpt2Config Gpt2Tiny = new()
    {
        VocabSize = 16, ContextLength = 16, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = Eos, EosTokenId = Eos,
    };

    private static CausalLmConfig Tiny(string family) => ModelFamilies.Tiny(family, Gpt2Tiny);

    /// <summary>The seed's recipe in miniature: chosen = [Let] + answer + EOS, rejected = answer + EOS.</summary>
    private static List<DpoExample> Pairs(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            int[] prompt = [1 + rng.NextInt(6), 1 + rng.NextInt(6), 12];
            int[] answer = [7 + rng.NextInt(5), 7 + rng.NextInt(5), Eos];
            return new DpoExample(prompt, [Let, .. answer], answer);
        }).ToList();
    }

    [Theory]
    [InlineData(DpoLossType.Sigmoid, ModelFamilies.Gpt2)]
    [InlineData(DpoLossType.Sigmoid, ModelFamilies.Llama)]
    [InlineData(DpoLossType.Ipo, ModelFamilies.Gpt2)]
    [InlineData(DpoLossType.Ipo, ModelFamilies.Llama)]
    [InlineData(DpoLossType.Robust, ModelFamilies.Gpt2)]
    [InlineData(DpoLossType.Robust, ModelFamilies.Llama)]
    public void GradientsMatchFiniteDifferences(DpoLossType lossType, string family)
    {
        using var policy = CausalLmRegistry.CreateRandom(Tiny(family) with { InitializerRange = 0.3f }, seed: 1);
        using var task = new DpoTask(policy, CausalLmRegistry.CreateRandom(Tiny(family) with { InitializerRange = 0.3f }, seed: 2),
            new DpoConfig { Beta = 0.5f, LossType = lossType, LabelSmoothing = lossType == DpoLossType.Robust ? 0.1f : 0f }, Eos);
        var pairs = Pairs(3, 5);
        task.TrainStep([pairs]);
        double Loss() => task.Evaluate(pairs, 8)["loss"];
        // RMSNorm of rows whose norm is ~0.3 curves fast: the Llama's central differences take a smaller step.
        double step = family == ModelFamilies.Llama ? 3e-3 : 1e-2;
        foreach (var name in ModelFamilies.SampleParameters(family))
        {
            var p = policy.Parameters[name];
            FiniteDifference.Check(name, p.Value.Span, p.Gradient.ToArray(), Loss, step: step, absTol: 5e-4, relTol: 3e-2, maxChecks: 25);
        }
    }

    private static float[] TrainWeights(string family, bool precompute, string output)
    {
        using var policy = CausalLmRegistry.CreateRandom(Tiny(family), seed: 3);
        var reference = CausalLmRegistry.CreateRandom(Tiny(family), seed: 3);
        using var task = new DpoTask(policy, reference, new DpoConfig { Beta = 0.3f, PrecomputeRefLogProbs = precompute }, Eos);
        IReadOnlyList<DpoExample> data = Pairs(24, 7);
        if (precompute)
        {
            data = task.PrecomputeReferenceLogProbs(data, 8);
            task.ReleaseReference();
        }
        var args = new TrainingArguments { OutputDir = output, MaxSteps = 4, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-3f, SaveSteps = 0 };
        new TrainingLoop<DpoExample>(task, args, data).Run();
        return policy.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void PrecomputedReferenceLogProbsEqualTheLiveReference(string family)
    {
        using var dir = new TempDirectory();
        var live = TrainWeights(family, false, dir.Sub("live"));
        var precomputed = TrainWeights(family, true, dir.Sub("pre"));
        // Reference log-probs computed in other batch shapes differ in the last float bits only; after 4 AdamW steps
        // the weights agree to 1e-5 (a wrong reference would move them by ~lr = 1e-3).
        double worst = live.Zip(precomputed, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"weights differ by {worst:G3}");
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void DpoTeachesThePreferredPrefix(string family)
    {
        using var dir = new TempDirectory();
        using var policy = CausalLmRegistry.CreateRandom(Tiny(family), seed: 4);
        // Start from an "SFT" model that answers without the prefix: a few steps of SFT on the rejected answers.
        var train = Pairs(96, 8);
        using (var sft = new Rlhf.Training.Sft.SftTask(policy, Eos))
        {
            var sftData = train.Select(p => new Rlhf.Training.Sft.SftExample(p.PromptIds, p.RejectedIds)).ToList();
            new TrainingLoop<Rlhf.Training.Sft.SftExample>(sft, new TrainingArguments { OutputDir = dir.Sub("sft"), MaxSteps = 60, PerDeviceTrainBatchSize = 16, LearningRate = 1e-2f, SaveSteps = 0 }, sftData).Run();
        }
        var heldOut = Pairs(40, 9);
        double Rate() => Generator.Generate(policy, heldOut.Select(p => p.PromptIds).ToArray(), new GenerationOptions { MaxNewTokens = 1 })
            .Count(r => r.Ids[0] == Let) / (double)heldOut.Count;
        Assert.True(Rate() <= 0.05, $"the SFT model already says the prefix ({Rate():P0})");

        var reference = CausalLmRegistry.CreateRandom(Tiny(family), seed: 0);
        policy.Parameters.Values.CopyTo(reference.Parameters.Values); // reference = the SFT model
        using var task = new DpoTask(policy, reference, new DpoConfig { Beta = 0.3f }, Eos);
        var result = new TrainingLoop<DpoExample>(task, new TrainingArguments { OutputDir = dir.Sub("dpo"), MaxSteps = 40, PerDeviceTrainBatchSize = 8, LearningRate = 3e-3f, SaveSteps = 0, LoggingSteps = 10 }, train, heldOut).Run();
        Assert.True(Rate() >= 0.95, $"after DPO the prefix rate is {Rate():P0}");
        var eval = result.LogHistory.Last();
        Assert.True(eval["eval_rewards/accuracies"] >= 0.95);
        Assert.True(eval["eval_rewards/margins"] > 0);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void AReferenceWithAnotherVocabularyIsRejected(string family)
    {
        using var policy = CausalLmRegistry.CreateRandom(Tiny(family), 1);
        var other = CausalLmRegistry.CreateRandom(Tiny(family) with { VocabSize = 17, BosTokenId = 16, EosTokenId = 16 }, 1);
        var error = Assert.Throws<ArgumentException>(() => new DpoTask(policy, other, new DpoConfig(), Eos));
        Assert.Contains("vocabulary", error.Message);
        other.Dispose();
        Assert.Throws<ArgumentException>(() => new DpoConfig { LossType = DpoLossType.Ipo, RpoAlpha = 1f }.Validate());
        Assert.Throws<ArgumentException>(() => new DpoConfig { MaxPromptLength = 600 }.Validate());
    }

    [Fact]
    public void TruncationKeepsThePromptEndAndCutsResponses()
    {
        var example = new DpoExample([1, 2, 3, 4, 5], [6, 7, 8, 9], [10, 11]).Truncate(maxLength: 6, maxPromptLength: 3);
        Assert.Equal([3, 4, 5], example.PromptIds);
        Assert.Equal([6, 7, 8], example.ChosenIds);
        Assert.Equal([10, 11], example.RejectedIds);
    }
}
