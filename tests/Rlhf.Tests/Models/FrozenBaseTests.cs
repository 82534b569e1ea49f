// A LoRA model's frozen base held only in bf16 (FrozenBase, --base-dtype bfloat16 with --use-peft) on both families:
// forward and every trained gradient (adapters, the score head, through the frozen layers) = the fp32 model whose linear
// weights are rounded to bf16 (≤ 1e-5; only the summation order differs), and within bf16's rounding of the fp32 base;
// adapters off = the bf16 frozen reference bit for bit; the fp32 pages are given back; misuse gives clear errors.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Models.Lora;
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Sft;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class FrozenBaseTests
{
    private const int Eos = 15;

    private static readonly Gpt2Config Gpt2Tiny = new()
    {
        VocabSize = 16, ContextLength = 16, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = Eos, EosTokenId = Eos,
    };

    private static readonly CausalLmBatch Batch = new(2, 6, [1, 5, 9, 2, 14, 3, 7, 7, 0, 11, 4, 6], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);

    private static LoraOptions Options() =>
        new(Rank: 4, Alpha: 8, Dropout: 0f, TargetModules: [LoraOptions.AllLinear], Seed: 11) { BaseModelNameOrPath = "tiny" };

    private enum Base { Float32, RoundedToBFloat16, PackedBFloat16 }

    /// <summary>A reward model (LoRA on every linear layer, B non-zero, the score head trained) with its base in the given form.</summary>
    private static RewardModel Make(string family, Base form)
    {
        var model = RewardModel.CreateRandom(ModelFamilies.Tiny(family, Gpt2Tiny), RewardPooling.LastToken, seed: 3);
        var adapters = LoraAdapters.Attach(model.Model, Options());
        var rng = new Rng(2);
        foreach (var p in adapters.AdapterParameters.Where(p => p.Name.EndsWith("lora_B.weight", StringComparison.Ordinal)))
            rng.FillNormal(p.Value.Span, 0, 0.2);
        if (form == Base.RoundedToBFloat16) RoundLinearWeights(model.Model);
        if (form == Base.PackedBFloat16) FrozenBase.Enable(model.Model, WeightPrecision.BFloat16);
        return model;
    }

    private static void RoundLinearWeights(ICausalLm model)
    {
        foreach (var (name, _) in model.LinearWeights)
        {
            var values = model.Parameters[name].Value.Span;
            for (int i = 0; i < values.Length; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)ReducedPrecisionKernels.ToBFloat16(values[i]) << 16);
        }
    }

    /// <summary>Rewards of the batch and the gradients of every trained parameter for d(loss)/d(reward) = (1, −0.5).</summary>
    private static (float[] Rewards, Dictionary<string, float[]> Gradients) Step(RewardModel model, bool checkpointing = false)
    {
        model.Model.GradientCheckpointing = checkpointing;
        model.Model.Parameters.ZeroGradients();
        using var arena = new Arena();
        var tape = new Tape();
        var rewards = model.Rewards(new Ops(arena, tape), Batch);
        rewards.Gradient.Span[0] = 1f;
        rewards.Gradient.Span[1] = -0.5f;
        var values = rewards.Value.ToArray();
        tape.Backward();
        return (values, model.Model.Parameters.Trainable.ToDictionary(p => p.Name, p => p.Gradient.ToArray()));
    }

    private static double MaxAbs(IEnumerable<float> values) => values.Max(v => (double)Math.Abs(v));

    [SkippableTheory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ForwardAndGradientsEqualTheFloat32ModelWithItsWeightsRoundedToBFloat16(string family)
    {
        Skip.IfNot(InferenceWeights.Supported, "the packed bf16 kernels need AVX-512");
        using var packed = Make(family, Base.PackedBFloat16);
        using var rounded = Make(family, Base.RoundedToBFloat16);
        var (rewards, gradients) = Step(packed, checkpointing: true);
        var (expectedRewards, expected) = Step(rounded);
        // Same values, another summation order (packed panels vs the GEMM): ≤ 1e-5 absolute on O(1) values.
        for (int i = 0; i < rewards.Length; i++) Assert.True(Math.Abs(rewards[i] - expectedRewards[i]) <= 1e-5, $"reward {i}: {rewards[i]} vs {expectedRewards[i]}");
        Assert.Contains(gradients.Keys, name => name.EndsWith("lora_A.weight", StringComparison.Ordinal));
        Assert.Contains("score.weight", gradients.Keys);
        Assert.Equal(expected.Keys.Order(), gradients.Keys.Order());
        foreach (var (name, gradient) in gradients)
        {
            double scale = Math.Max(1, MaxAbs(expected[name]));
            for (int i = 0; i < gradient.Length; i++)
                Assert.True(Math.Abs(gradient[i] - expected[name][i]) <= 1e-5 * scale, $"{name}[{i}]: {gradient[i]} vs {expected[name][i]}");
        }
        // Layer 0's adapters get their gradient through every frozen layer above them (the packed backward to the input).
        Assert.True(gradients.Where(g => g.Key.Contains(".0.", StringComparison.Ordinal) && g.Key.EndsWith("lora_A.weight", StringComparison.Ordinal))
            .All(g => MaxAbs(g.Value) > 0));
    }

    [SkippableTheory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void GradientsAreTheFloat32BasesWithinBFloat16Rounding(string family)
    {
        Skip.IfNot(InferenceWeights.Supported, "the packed bf16 kernels need AVX-512");
        using var packed = Make(family, Base.PackedBFloat16);
        using var exact = Make(family, Base.Float32);
        var (rewards, gradients) = Step(packed);
        var (expectedRewards, expected) = Step(exact);
        // bf16 keeps 8 significant bits (relative rounding ≤ 2⁻⁹ per weight); with transformers' initialisation (std 0.02)
        // the rewards stay within 1e-2 and each trained tensor's gradient within 2% in relative L2 norm (‖g − g₃₂‖ / ‖g₃₂‖;
        // 0.7% measured at most) of the fp32 base's, and are not the fp32 ones (the rounding is really applied).
        for (int i = 0; i < rewards.Length; i++) Assert.True(Math.Abs(rewards[i] - expectedRewards[i]) <= 1e-2 * Math.Max(1, Math.Abs(expectedRewards[i])));
        double largest = 0;
        foreach (var (name, gradient) in gradients)
        {
            double norm = Math.Sqrt(expected[name].Sum(v => (double)v * v));
            double error = Math.Sqrt(gradient.Zip(expected[name]).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)));
            Assert.True(error <= 2e-2 * norm, $"{name}: ‖error‖ {error} against ‖gradient‖ {norm}");
            largest = Math.Max(largest, error / norm);
        }
        Assert.True(largest > 0, "bf16 rounding should change the gradients");
    }

    [SkippableTheory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void AdaptersOffAreTheBFloat16FrozenReferenceBitForBit(string family)
    {
        Skip.IfNot(InferenceWeights.Supported, "the packed bf16 kernels need AVX-512");
        var config = ModelFamilies.Tiny(family, Gpt2Tiny);
        using var policy = CausalLmRegistry.CreateRandom(config, seed: 4);
        var adapters = LoraAdapters.Attach(policy, Options());
        foreach (var p in adapters.AdapterParameters) new Rng(5).FillNormal(p.Value.Span, 0, 0.2);
        FrozenBase.Enable(policy, WeightPrecision.BFloat16);
        using var source = CausalLmRegistry.CreateRandom(config, seed: 4);
        var (copy, weights) = FrozenCopy.Create(source, WeightPrecision.BFloat16);
        using (copy)
        using (weights)
        {
            var reference = Hidden(copy, weights);
            Assert.Equal(reference, Hidden(adapters.BaseModel, null));
            Assert.NotEqual(reference, Hidden(policy, null));
        }
    }

    private static float[] Hidden(ICausalLm model, InferenceWeights? packed)
    {
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        return model.Forward(ops, Batch.TokenIds, Batch.PositionIds, null, Batch.BatchSize, Batch.SequenceLength, trainable: false, packed: packed)
            .Value.ToArray();
    }

    [SkippableFact]
    public void TheFloat32CopiesAreGivenBackAndNothingReadsThem()
    {
        Skip.IfNot(InferenceWeights.Supported, "the packed bf16 kernels need AVX-512");
        // Wide enough that the parameters live in a mapped slab (≥ 2 MiB), whose pages can be given back.
        var config = Gpt2Tiny with { EmbeddingSize = 256, HeadCount = 4 };
        using var model = CausalLmRegistry.CreateRandom(config, seed: 7);
        Assert.Throws<ArgumentException>(() => FrozenBase.Enable(model, WeightPrecision.BFloat16)); // no adapters: the weights are trained
        var adapters = LoraAdapters.Attach(model, Options());
        const string name = "transformer.h.0.mlp.c_fc.weight"; // [256, 1024]
        var original = model.Parameters[name].Value.ToArray();
        FrozenBase.Enable(model, WeightPrecision.BFloat16);

        var packed = model.FrozenBaseWeights![name];
        Assert.Equal(WeightPrecision.BFloat16, packed.Precision);
        for (int i = 0; i < original.Length; i += 997)
            Assert.Equal(BitConverter.UInt32BitsToSingle((uint)ReducedPrecisionKernels.ToBFloat16(original[i]) << 16), packed[i / 1024, i % 1024]);
        var released = model.Parameters[name].Value.Span;
        Assert.True(released[(released.Length / 2)..(released.Length / 2 + 4096)].IndexOfAnyExcept(0f) < 0, "the fp32 pages should be given back");

        Assert.Throws<InvalidOperationException>(() => InferenceWeights.Pack(model));
        Assert.Throws<InvalidOperationException>(() => LoraMerge.MergeAndUnload(adapters));
        Assert.Throws<InvalidOperationException>(() => FrozenBase.Enable(model, WeightPrecision.BFloat16));
        Assert.Throws<InvalidOperationException>(() => adapters.BaseModel.FrozenBaseWeights = null);
        // Generation runs on the packed base (and the fp32 LM head).
        var generated = Generator.Generate(model, [[1, 2, 3]], new GenerationOptions { MaxNewTokens = 3, EosTokenId = -1 });
        Assert.Equal(3, generated[0].Ids.Length);
    }

    [SkippableTheory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ResumingOnABFloat16BaseEqualsTheUninterruptedRun(string family)
    {
        Skip.IfNot(InferenceWeights.Supported, "the packed bf16 kernels need AVX-512");
        using var dir = new TempDirectory();
        List<SftExample> data = Enumerable.Range(0, 12).Select(i => new SftExample([1 + i % 5, 6], [8 + i % 4, 9, Eos])).ToList();
        var args = new TrainingArguments { MaxSteps = 4, PerDeviceTrainBatchSize = 3, LearningRate = 1e-2f, LoggingSteps = 2, SaveSteps = 0, Seed = 5 };
        float[] Train(TrainingArguments a, CancellationToken cancel = default, Action<TrainingProgress>? onProgress = null)
        {
            using var model = CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(family, Gpt2Tiny), seed: 9);
            var adapters = LoraAdapters.Attach(model, Options() with { Dropout = 0.1f });
            FrozenBase.Enable(model, WeightPrecision.BFloat16);
            model.GradientCheckpointing = true;
            using var task = new SftTask(model, padTokenId: Eos);
            new TrainingLoop<SftExample>(task, a, data) { Progress = onProgress is null ? null : new Rlhf.Tests.Training.SyncProgress<TrainingProgress>(onProgress) }.Run(cancel);
            return adapters.AdapterParameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        var uninterrupted = Train(args with { OutputDir = dir.Sub("full") });
        using var cancel = new CancellationTokenSource();
        Train(args with { OutputDir = dir.Sub("resumed") }, cancel.Token, p => { if (p.Step == 2) cancel.Cancel(); });
        Assert.True(File.Exists(Path.Combine(dir.Sub("resumed"), "checkpoint-2", PeftAdapterFolder.WeightsFileName)));
        Assert.False(File.Exists(Path.Combine(dir.Sub("resumed"), "checkpoint-2", ICausalLm.WeightsFileName)), "a checkpoint holds the adapters, not the base");
        Assert.Equal(uninterrupted, Train(args with { OutputDir = dir.Sub("resumed"), ResumeFromCheckpoint = "latest" }));
    }

    [Fact]
    public void Float32IsANoOp()
    {
        using var model = CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(ModelFamilies.Llama, Gpt2Tiny), seed: 1);
        FrozenBase.Enable(model, WeightPrecision.Float32);
        Assert.Null(model.FrozenBaseWeights);
    }
}
