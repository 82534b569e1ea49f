// LoRA on both families: forward = merged model (≤ 1e-5), adapters off = base bit for bit, finite-difference gradients
// of lora_A/lora_B, frozen parameters without gradients, PEFT folder round trip, resume, DPO's implicit reference, bad input.
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Rlhf.Training.Sft;
using Xunit;

namespace Rlhf.Tests.Models;

public class LoraTests
{
    private const int Eos = 15;

    private static readonly Gpt2Config Gpt2Tiny = new()
    {
        VocabSize = 16, ContextLength = 16, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = Eos, EosTokenId = Eos,
    };

    private static CausalLmConfig Tiny(string family) => ModelFamilies.Tiny(family, Gpt2Tiny);

    private static LoraOptions Options(float dropout = 0f, string targets = LoraOptions.AllLinear) =>
        new(Rank: 4, Alpha: 8, Dropout: dropout, TargetModules: LoraOptions.ParseTargets(targets), Seed: 11) { BaseModelNameOrPath = "tiny" };

    /// <summary>B starts at zero (the update is then 0); tests give it values so the adapters change the output.</summary>
    private static void RandomizeB(LoraAdapters adapters, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var p in adapters.AdapterParameters.Where(p => p.Name.EndsWith("lora_B.weight", StringComparison.Ordinal)))
            rng.FillNormal(p.Value.Span, 0, 0.2);
    }

    private static readonly int[] Tokens = [1, 5, 9, 2, 14, 3, 7, 7, 0, 11, 4, 6];

    private static float[] Hidden(ICausalLm model, bool trainable = false)
    {
        using var arena = new Arena(1 << 20);
        var ops = new Ops(arena, new Tape { Enabled = trainable });
        int[] positions = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5];
        return model.Forward(ops, Tokens, positions, null, 2, 6, trainable).Value.ToArray();
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ForwardEqualsTheMergedModel(string family)
    {
        using var adapted = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        var adapters = LoraAdapters.Attach(adapted, Options());
        RandomizeB(adapters, 2);
        var withAdapters = Hidden(adapted);

        using var merged = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        var copy = LoraAdapters.Attach(merged, Options());
        foreach (var p in adapters.AdapterParameters) merged.Parameters[p.Name].Value.CopyFrom(p.Value);
        LoraMerge.MergeAndUnload(copy);
        Assert.Null(merged.Adapters);
        var plain = Hidden(merged);

        double worst = withAdapters.Zip(plain, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"LoRA forward and merged forward differ by {worst:G3}");
        using var baseline = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        Assert.True(Hidden(baseline).Zip(plain, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "the adapters must change the output");
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void DisabledAdaptersGiveTheBaseBitForBit(string family)
    {
        using var baseline = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        var expected = Hidden(baseline);
        using var adapted = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        var adapters = LoraAdapters.Attach(adapted, Options(dropout: 0.1f));
        RandomizeB(adapters, 3);
        using (adapters.Disable()) Assert.Equal(expected, Hidden(adapted, trainable: true));
        Assert.Equal(expected, Hidden(adapters.BaseModel));
        Assert.NotEqual(expected, Hidden(adapted));
        Assert.True(adapters.Enabled);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void AdapterGradientsMatchFiniteDifferencesAndTheBaseHasNone(string family)
    {
        using var model = CausalLmRegistry.CreateRandom(Tiny(family) with { InitializerRange = 0.3f }, seed: 1);
        var adapters = LoraAdapters.Attach(model, Options(targets: family == ModelFamilies.Gpt2 ? "c_attn,c_fc" : "q_proj,v_proj,down_proj"));
        RandomizeB(adapters, 4);
        using var task = new SftTask(model, padTokenId: Eos);
        List<SftExample> data = [new([1, 2], [3, 4, Eos]), new([5], [6, 7, 8, Eos]), new([9, 10, 11], [12, Eos])];
        model.Parameters.ZeroGradients();
        task.TrainStep([data]);
        double Loss() => task.Evaluate(data, 8)["loss"];
        foreach (var p in adapters.AdapterParameters.Take(6))
            FiniteDifference.Check(p.Name, p.Value.Span, p.Gradient.ToArray(), Loss, step: 3e-3, absTol: 5e-4, relTol: 3e-2, maxChecks: 20);

        // Frozen: the base has no gradient buffer and the optimizer no state for it.
        var baseWeight = model.Parameters[model.LinearWeights[0].Name];
        Assert.True(baseWeight.Frozen);
        Assert.Throws<InvalidOperationException>(() => baseWeight.Gradient);
        long adapterScalars = adapters.AdapterParameters.Sum(p => p.Value.Length);
        Assert.Equal(adapterScalars, model.Parameters.TrainableParameterCount);
        Assert.True(model.Parameters.TrainableElementCount < adapterScalars + 16 * adapters.AdapterParameters.Count());
        using var optimizer = new AdamW(model.Parameters);
        Assert.Equal(model.Parameters.TrainableElementCount, optimizer.FirstMoment.Length);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ThePeftFolderRoundTrips(string family)
    {
        using var dir = new TempDirectory();
        using var model = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        var adapters = LoraAdapters.Attach(model, Options(targets: family == ModelFamilies.Gpt2 ? "c_attn" : "q_proj,v_proj"));
        RandomizeB(adapters, 5);
        model.Save(dir.Path);
        Assert.True(File.Exists(Path.Combine(dir.Path, PeftAdapterFolder.ConfigFileName)));
        Assert.False(File.Exists(Path.Combine(dir.Path, "model.safetensors")));
        using (var file = SafeTensors.Open(Path.Combine(dir.Path, PeftAdapterFolder.WeightsFileName)))
        {
            string module = family == ModelFamilies.Gpt2 ? "base_model.model.transformer.h.0.attn.c_attn" : "base_model.model.model.layers.0.self_attn.q_proj";
            Assert.Equal([4, 32], file.Tensors[module + ".lora_A.weight"].Shape);
            Assert.Equal(family == ModelFamilies.Gpt2 ? [96, 4] : [32, 4], file.Tensors[module + ".lora_B.weight"].Shape);
            Assert.Equal((family == ModelFamilies.Gpt2 ? 1 : 2) * 2 * Tiny(family).LayerCount, file.Tensors.Count); // modules × (A, B) × layers
        }
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, PeftAdapterFolder.ConfigFileName)))!;
        Assert.Equal("LORA", (string?)config["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)config["task_type"]);
        Assert.Equal(family == ModelFamilies.Gpt2, (bool)config["fan_in_fan_out"]!);
        Assert.Equal(4, (int)config["r"]!);

        using var loaded = CausalLmRegistry.CreateRandom(Tiny(family), seed: 1);
        var again = PeftAdapterFolder.Attach(loaded, "tiny", dir.Path);
        Assert.Equal(Hidden(model), Hidden(loaded));
        Assert.Equal(adapters.Options.TargetModules, again.Options.TargetModules);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ResumingWithAdaptersEqualsTheUninterruptedRun(string family)
    {
        using var dir = new TempDirectory();
        List<SftExample> data = Enumerable.Range(0, 12).Select(i => new SftExample([1 + i % 5, 6], [8 + i % 4, 9, Eos])).ToList();
        var args = new TrainingArguments
        {
            MaxSteps = 6, PerDeviceTrainBatchSize = 3, GradientAccumulationSteps = 2, LearningRate = 1e-2f, LoggingSteps = 2, SaveSteps = 0, Seed = 5,
        };
        float[] Train(TrainingArguments a, CancellationToken cancel = default, Action<TrainingProgress>? onProgress = null)
        {
            using var model = CausalLmRegistry.CreateRandom(Tiny(family), seed: 9);
            var adapters = LoraAdapters.Attach(model, Options(dropout: 0.1f));
            using var task = new SftTask(model, padTokenId: Eos);
            new TrainingLoop<SftExample>(task, a, data) { Progress = onProgress is null ? null : new Rlhf.Tests.Training.SyncProgress<TrainingProgress>(onProgress) }.Run(cancel);
            return adapters.AdapterParameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        var uninterrupted = Train(args with { OutputDir = dir.Sub("full") });
        using var cancel = new CancellationTokenSource();
        Train(args with { OutputDir = dir.Sub("resumed") }, cancel.Token, p => { if (p.Step == 3) cancel.Cancel(); });
        Assert.True(File.Exists(Path.Combine(dir.Sub("resumed"), "checkpoint-3", PeftAdapterFolder.WeightsFileName)));
        var resumed = Train(args with { OutputDir = dir.Sub("resumed"), ResumeFromCheckpoint = "latest" });
        Assert.Equal(uninterrupted, resumed);
        Assert.True(File.Exists(Path.Combine(dir.Sub("full"), PeftAdapterFolder.ConfigFileName)));
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void DpoWithTheImplicitReferenceEqualsAnExplicitFrozenCopy(string family)
    {
        using var dir = new TempDirectory();
        var rng = new Rng(7);
        var pairs = Enumerable.Range(0, 16).Select(_ =>
        {
            int[] prompt = [1 + rng.NextInt(6), 12];
            int[] answer = [7 + rng.NextInt(5), Eos];
            return new DpoExample(prompt, [13, .. answer], answer);
        }).ToList();
        float[] Train(bool implicitReference, string output)
        {
            using var policy = CausalLmRegistry.CreateRandom(Tiny(family), seed: 3);
            var adapters = LoraAdapters.Attach(policy, Options(dropout: 0.05f));
            var reference = implicitReference ? adapters.BaseModel : CausalLmRegistry.CreateRandom(Tiny(family), seed: 3);
            using var task = new DpoTask(policy, reference, new DpoConfig { Beta = 0.3f }, Eos);
            var args = new TrainingArguments { OutputDir = output, MaxSteps = 4, PerDeviceTrainBatchSize = 4, LearningRate = 1e-2f, SaveSteps = 0 };
            new TrainingLoop<DpoExample>(task, args, pairs).Run();
            if (!implicitReference) reference.Dispose();
            return adapters.AdapterParameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        var shared = Train(true, dir.Sub("implicit"));
        var copy = Train(false, dir.Sub("explicit"));
        double worst = shared.Zip(copy, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"weights differ by {worst:G3}");
    }

    [Fact]
    public void TargetsMatchingNothingListTheLinearModules()
    {
        using var model = CausalLmRegistry.CreateRandom(Tiny(ModelFamilies.Llama), seed: 1);
        var error = Assert.Throws<ArgumentException>(() => LoraAdapters.Attach(model, Options(targets: "c_attn,query")));
        Assert.Contains("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", error.Message);
        Assert.Null(model.Adapters);
        Assert.DoesNotContain(model.Parameters.Parameters, p => p.Frozen);
    }

    [Fact]
    public void AnAdapterForAnotherBaseIsRefusedNamingBoth()
    {
        using var dir = new TempDirectory();
        using (var model = CausalLmRegistry.CreateRandom(Tiny(ModelFamilies.Llama), seed: 1))
        {
            LoraAdapters.Attach(model, Options() with { BaseModelNameOrPath = "org/small-base" });
            model.Save(dir.Path);
        }
        using var wider = CausalLmRegistry.CreateRandom(((Rlhf.Models.Llama.LlamaConfig)Tiny(ModelFamilies.Llama)) with { IntermediateSize = 40 }, seed: 1);
        var shape = Assert.Throws<ModelFormatException>(() => PeftAdapterFolder.Attach(wider, "/models/small-base", dir.Path));
        Assert.Contains("/models/small-base", shape.Message);
        Assert.Contains(dir.Path, shape.Message);
        Assert.Contains("shape", shape.Message);
        Assert.Null(wider.Adapters);

        using var other = CausalLmRegistry.CreateRandom(Tiny(ModelFamilies.Llama), seed: 1);
        var name = Assert.Throws<ModelFormatException>(() => PeftAdapterFolder.Attach(other, "/models/other-base", dir.Path));
        Assert.Contains("org/small-base", name.Message);
        Assert.Contains("/models/other-base", name.Message);
    }
}
