// LoRA through the public API: each trainer given a LoraConfig writes the PEFT adapter folder `rlhf <verb> --use-peft`
// writes with the same settings, byte for byte; a base + adapter folder loads, generates, merges and saves as a plain
// model; bad settings name the parameter.
using Rlhf.Cli.Commands;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Rlhf.Training.Grpo;
using Rlhf.Training.Ppo;
using Xunit;

namespace Rlhf.Tests.Api;

[Collection("Console")]
public sealed class LoraApiTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string llama;
    private readonly string gpt2;
    private readonly string demonstrations;
    private readonly string pairs;
    private readonly string prompts;

    public LoraApiTests()
    {
        // A context of 128: rlhf caps --max-length at the context and the prompt at half of it, and every example here fits.
        llama = TinyModels.Create(dir.Sub("llama"), layers: 1, context: 128, family: ModelFamilies.Llama);
        gpt2 = TinyModels.Create(dir.Sub("gpt2"), layers: 1, context: 128);
        demonstrations = dir.Sub("sft.jsonl");
        File.WriteAllLines(demonstrations, Enumerable.Range(0, 6).Select(i =>
            $"{{\"instruction\": \"What is the capital of France? {i}\", \"response\": \"Paris is the capital of France.\"}}"));
        pairs = dir.Sub("pairs.jsonl");
        File.WriteAllLines(pairs, Enumerable.Range(0, 6).Select(i =>
            $"{{\"prompt\": \"How do I boil an egg? {i}\", \"chosen\": \"Put the egg in boiling water.\", \"rejected\": \"I cannot teach you that.\"}}"));
        prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"What is the capital of France? {i}\"}}"));
    }

    public void Dispose() => dir.Dispose();

    private static readonly string[] LoraFlags = ["--use-peft", "--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0.1"];

    private static LoraConfig Lora(params string[] targets) => new() { Rank = 4, Alpha = 8, Dropout = 0.1f, TargetModules = targets.Length == 0 ? null : targets };

    private static string[] Loop(string output) =>
        ["--output", output, "--max-steps", "2", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1", "--learning-rate", "1e-2",
         "--seed", "7", "--save-steps", "0"];

    private static TrainingArguments Loop(TrainingArguments defaults, string output) => defaults with
    {
        OutputDir = output, MaxSteps = 2, PerDeviceTrainBatchSize = 2, GradientAccumulationSteps = 1, LearningRate = 1e-2f, Seed = 7, SaveSteps = 0,
    };

    private static void RunCli(params string[] args)
    {
        var (code, output, error) = CliRun.Separate(args);
        Assert.True(code == 0, error + output);
    }

    /// <summary>The PEFT files of two output folders are the same bytes (the weights and adapter_config.json).</summary>
    private static void AssertSameAdapterFolder(string expected, string actual, params string[] extraFiles)
    {
        using (var a = SafeTensors.Open(Path.Combine(expected, PeftAdapterFolder.WeightsFileName)))
        using (var b = SafeTensors.Open(Path.Combine(actual, PeftAdapterFolder.WeightsFileName)))
        {
            var diffs = new List<string>();
            foreach (var (k, v) in a.Metadata) if (b.Metadata.GetValueOrDefault(k) != v) diffs.Add($"meta {k}: {v} vs {b.Metadata.GetValueOrDefault(k)}");
            foreach (var key in a.Tensors.Keys)
            {
                var x = new float[a.Tensors[key].Shape.Aggregate(1, (p, q) => p * q)]; var y = new float[x.Length];
                a.ReadInto(key, x); b.ReadInto(key, y);
                double m = 0; for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs(x[i] - y[i]));
                if (m > 0) diffs.Add($"{key}: {m:G3}");
            }
            Assert.True(diffs.Count == 0, string.Join("\n", diffs));
        }
        foreach (var file in new[] { PeftAdapterFolder.WeightsFileName, PeftAdapterFolder.ConfigFileName }.Concat(extraFiles))
            Assert.True(File.ReadAllBytes(Path.Combine(expected, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, file))), $"{file} differs");
        Assert.False(File.Exists(Path.Combine(actual, "model.safetensors")));
    }

    [Fact]
    public void SftWithALoraConfigWritesTheAdapterFolderRlhfSftWrites()
    {
        RunCli(["sft", "--model", llama, "--dataset", demonstrations, .. Loop(dir.Sub("cli")), .. LoraFlags, "--lora-target-modules", "all-linear", "--gradient-checkpointing"]);

        using var model = LanguageModel.Load(llama);
        long all = model.ParameterCount;
        var trainer = new SftTrainer(model, Loop(SftCommand.Defaults, dir.Sub("api")) with { GradientCheckpointing = true }, Lora(LoraConfig.AllLinear));
        Assert.True(model.HasAdapters);
        Assert.Equal(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"], model.AdapterConfig!.TargetModules);
        Assert.True(model.TrainableParameterCount < all / 4, $"{model.TrainableParameterCount} of {model.ParameterCount} trainable");
        trainer.Train(Datasets.ReadDemonstrations(demonstrations));

        Assert.True(model.Folder.Model.GradientCheckpointing);
        AssertSameAdapterFolder(dir.Sub("cli"), dir.Sub("api"));
        model.Save(dir.Sub("saved")); // the trained model in memory saves the same adapter folder
        AssertSameAdapterFolder(dir.Sub("cli"), dir.Sub("saved"));
    }

    [Fact]
    public void WithoutLoraSftTrainsTheWeightsRlhfSftTrainsEosIncluded()
    {
        // The API's responses come without the EOS text the CLI's pipeline renders; both end with the EOS id (PITFALLS #3).
        RunCli(["sft", "--model", gpt2, "--dataset", demonstrations, .. Loop(dir.Sub("cli"))]);
        using var model = LanguageModel.Load(gpt2);
        new SftTrainer(model, Loop(SftCommand.Defaults, dir.Sub("api"))).Train(Datasets.ReadDemonstrations(demonstrations));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Sub("cli"), "model.safetensors")), File.ReadAllBytes(Path.Combine(dir.Sub("api"), "model.safetensors")));
    }

    [Fact]
    public void DpoWithALoraConfigUsesTheBaseAsItsReferenceAsRlhfDpoDoes()
    {
        RunCli(["dpo", "--model", gpt2, "--dataset", pairs, .. Loop(dir.Sub("cli")), .. LoraFlags]);

        using var policy = LanguageModel.Load(gpt2);
        var config = new DpoConfig { Beta = 0.3f, MaxLength = 128, MaxPromptLength = 64 }; // rlhf dpo's defaults, capped at the context as it caps them
        new DpoTrainer(policy, Loop(DpoCommand.Defaults, dir.Sub("api")), config, peftConfig: Lora()).Train(Datasets.ReadPreferences(pairs));
        AssertSameAdapterFolder(dir.Sub("cli"), dir.Sub("api"));
        Assert.Equal(["c_attn"], policy.AdapterConfig!.TargetModules);
    }

    [Fact]
    public void RewardWithALoraConfigTrainsTheScoreHeadAsModulesToSaveAsRlhfRewardDoes()
    {
        RunCli(["reward", "--model", llama, "--dataset", pairs, .. Loop(dir.Sub("cli")), .. LoraFlags, "--lora-target-modules", "q_proj,k_proj"]);

        using var baseModel = LanguageModel.Load(llama);
        using var scorer = RewardScorer.FromLanguageModel(baseModel, seed: 7); // rlhf reward's fresh head comes from --seed
        new RewardTrainer(scorer, Loop(RewardCommand.Defaults, dir.Sub("api")), peftConfig: Lora("q_proj", "k_proj")).Train(Datasets.ReadPreferences(pairs));
        AssertSameAdapterFolder(dir.Sub("cli"), dir.Sub("api"));
        Assert.True(scorer.HasAdapters);

        // The adapter folder loads onto its base and scores as the trained scorer does; merged, it scores the same.
        float trained = scorer.Score("How do I boil an egg?", " Put the egg in boiling water.");
        using var loaded = RewardScorer.Load(llama, dir.Sub("api"));
        Assert.Equal(trained, loaded.Score("How do I boil an egg?", " Put the egg in boiling water."), 5);
        loaded.MergeAndUnload();
        Assert.False(loaded.HasAdapters);
        Assert.Equal(trained, loaded.Score("How do I boil an egg?", " Put the egg in boiling water."), 4);
        loaded.Save(dir.Sub("merged"));
        using var merged = RewardScorer.Load(dir.Sub("merged"));
        Assert.Equal(trained, merged.Score("How do I boil an egg?", " Put the egg in boiling water."), 4);
    }

    [Fact]
    public void PpoAndGrpoWithALoraConfigTrainWhatRlhfPpoAndRlhfGrpoTrain()
    {
        string rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), gpt2);
        string[] ppoFlags = ["--max-steps", "2", "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "2", "--mini-batch-size", "2",
            "--num-ppo-epochs", "2", "--max-new-tokens", "4", "--learning-rate", "1e-3", "--seed", "7", "--save-steps", "0"];
        RunCli(["ppo", "--model", gpt2, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("cli-ppo"), .. ppoFlags, .. LoraFlags]);
        using (var policy = LanguageModel.Load(gpt2))
        using (var reward = RewardScorer.Load(rewardModel))
        {
            var arguments = PpoTrainer.DefaultArguments with
            {
                OutputDir = dir.Sub("api-ppo"), MaxSteps = 2, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-3f, Seed = 7, SaveSteps = 0,
            };
            new PpoTrainer(policy, reward, arguments, new PpoConfig { MiniBatchSize = 2, NumPpoEpochs = 2, MaxNewTokens = 4 }, peftConfig: Lora())
                .Train(Datasets.ReadPrompts(prompts));
            AssertSameAdapterFolder(dir.Sub("cli-ppo"), dir.Sub("api-ppo"), PolicyWithValueHead.ValueHeadFileName);
            policy.Save(dir.Sub("ppo-policy")); // the trained adapters came back into the policy given
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Sub("cli-ppo"), PeftAdapterFolder.WeightsFileName)),
                File.ReadAllBytes(Path.Combine(dir.Sub("ppo-policy"), PeftAdapterFolder.WeightsFileName)));
        }

        string[] grpoFlags = ["--max-steps", "2", "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "2", "--num-generations", "4",
            "--max-completion-length", "4", "--num-iterations", "2", "--beta", "0.05", "--learning-rate", "1e-3", "--seed", "7", "--save-steps", "0"];
        RunCli(["grpo", "--model", gpt2, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("cli-grpo"), .. grpoFlags, .. LoraFlags]);
        using (var policy = LanguageModel.Load(gpt2))
        using (var reward = RewardScorer.Load(rewardModel))
        {
            var arguments = GrpoTrainer.DefaultArguments with
            {
                OutputDir = dir.Sub("api-grpo"), MaxSteps = 2, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-3f, Seed = 7, SaveSteps = 0,
            };
            var config = GrpoConfig.Grpo with { NumGenerations = 4, MaxCompletionLength = 4, NumIterations = 2, Beta = 0.05 };
            new GrpoTrainer(policy, reward, arguments, config, peftConfig: Lora()).Train(Datasets.ReadPrompts(prompts));
            AssertSameAdapterFolder(dir.Sub("cli-grpo"), dir.Sub("api-grpo"));
        }
    }

    [Fact]
    public void ABaseWithItsAdapterFolderGeneratesAndMergesIntoThePlainModelRlhfMergeWrites()
    {
        string adapter = dir.Sub("adapter");
        RunCli(["sft", "--model", llama, "--dataset", demonstrations, .. Loop(adapter), .. LoraFlags, "--lora-target-modules", "all-linear"]);
        RunCli("merge", "--model", llama, "--adapter", adapter, "--output", dir.Sub("cli-merged"));
        var greedy = new Rlhf.Models.Generation.GenerationOptions { MaxNewTokens = 6 };

        using var model = LanguageModel.Load(llama, adapter);
        Assert.True(model.HasAdapters);
        Assert.Equal(4, model.AdapterConfig!.Rank);
        string withAdapters = model.Generate("What is the capital of France?", greedy);
        using (var plain = LanguageModel.Load(llama))
        using (model.DisableAdapters())
            Assert.Equal(plain.Generate("What is the capital of France?", greedy), model.Generate("What is the capital of France?", greedy));
        Assert.Equal(withAdapters, model.Generate("What is the capital of France?", greedy));
        model.MergeAndUnload();
        Assert.False(model.HasAdapters);
        Assert.Equal(withAdapters, model.Generate("What is the capital of France?", greedy));
        model.Save(dir.Sub("api-merged"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Sub("cli-merged"), "model.safetensors")), File.ReadAllBytes(Path.Combine(dir.Sub("api-merged"), "model.safetensors")));
        using var reloaded = LanguageModel.Load(dir.Sub("api-merged"));
        Assert.False(reloaded.HasAdapters);
        Assert.Equal(withAdapters, reloaded.Generate("What is the capital of France?", greedy));
        Assert.Throws<InvalidOperationException>(() => reloaded.MergeAndUnload());

        // Training further on the loaded adapter, its reference the base: what `rlhf dpo --model BASE --adapter DIR` trains.
        RunCli(["dpo", "--model", llama, "--adapter", adapter, "--dataset", pairs, .. Loop(dir.Sub("cli-further"))]);
        using var further = LanguageModel.Load(llama, adapter, seed: 7);
        new DpoTrainer(further, Loop(DpoCommand.Defaults, dir.Sub("api-further")), new DpoConfig { Beta = 0.3f, MaxLength = 128, MaxPromptLength = 64 })
            .Train(Datasets.ReadPreferences(pairs));
        AssertSameAdapterFolder(dir.Sub("cli-further"), dir.Sub("api-further"));
    }

    [Fact]
    public void ResumingALoraRunFromItsCheckpointEqualsTheUninterruptedRun()
    {
        var data = Datasets.ReadDemonstrations(demonstrations);
        var arguments = Loop(SftCommand.Defaults, dir.Sub("full")) with { MaxSteps = 4, LearningRate = 1e-2f };
        using (var model = LanguageModel.Load(llama))
            new SftTrainer(model, arguments, Lora()).Train(data);

        // Stopped after step 2 (a checkpoint with the adapters, their moments and dropout draws), then resumed on a fresh model.
        using (var model = LanguageModel.Load(llama))
        using (var cancel = new CancellationTokenSource())
        {
            var trainer = new SftTrainer(model, arguments with { OutputDir = dir.Sub("resumed") }, Lora());
            trainer.Progress += (_, p) => { if (p.Step == 2) cancel.Cancel(); };
            Assert.True(trainer.Train(data, cancellation: cancel.Token).Interrupted);
        }
        using (var model = LanguageModel.Load(llama))
            new SftTrainer(model, arguments with { OutputDir = dir.Sub("resumed"), ResumeFromCheckpoint = "latest" }, Lora()).Train(data);
        AssertSameAdapterFolder(dir.Sub("full"), dir.Sub("resumed"));
    }

    [SkippableFact]
    public void ABfloat16BaseTrainsWhatRlhfTrainsWithBaseDtypeBfloat16()
    {
        Skip.IfNot(InferenceWeights.Supported, "a bfloat16 frozen base needs AVX-512 (the packed bf16 kernels)");
        RunCli(["sft", "--model", llama, "--dataset", demonstrations, .. Loop(dir.Sub("cli-sft")), .. LoraFlags, "--base-dtype", "bfloat16", "--gradient-checkpointing"]);
        RunCli(["dpo", "--model", gpt2, "--dataset", pairs, .. Loop(dir.Sub("cli-dpo")), .. LoraFlags, "--base-dtype", "bfloat16"]);

        using (var model = LanguageModel.Load(llama))
        {
            new SftTrainer(model, Loop(SftCommand.Defaults, dir.Sub("api-sft")) with { GradientCheckpointing = true }, Lora() with { BaseDtype = BaseDtype.BFloat16 })
                .Train(Datasets.ReadDemonstrations(demonstrations));
            AssertSameAdapterFolder(dir.Sub("cli-sft"), dir.Sub("api-sft"));
            Assert.Equal(BaseDtype.BFloat16, model.AdapterConfig!.BaseDtype);
            Assert.Contains("bfloat16", Assert.Throws<InvalidOperationException>(model.MergeAndUnload).Message);
        }
        using var policy = LanguageModel.Load(gpt2);
        new DpoTrainer(policy, Loop(DpoCommand.Defaults, dir.Sub("api-dpo")), new DpoConfig { Beta = 0.3f, MaxLength = 128, MaxPromptLength = 64 },
            peftConfig: Lora() with { BaseDtype = BaseDtype.BFloat16 }).Train(Datasets.ReadPreferences(pairs));
        AssertSameAdapterFolder(dir.Sub("cli-dpo"), dir.Sub("api-dpo"));

        // PPO packs the base of its copy of the policy (the one with the value head), as rlhf ppo packs its policy's.
        string rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), gpt2);
        RunCli(["ppo", "--model", gpt2, "--reward-model", rewardModel, "--dataset", prompts, "--output", dir.Sub("cli-ppo"), "--max-steps", "1",
            "--per-device-train-batch-size", "4", "--mini-batch-size", "2", "--max-new-tokens", "4", "--seed", "7", "--save-steps", "0", .. LoraFlags, "--base-dtype", "bfloat16"]);
        using var reward = RewardScorer.Load(rewardModel);
        using (var ppoPolicy = LanguageModel.Load(gpt2))
            new PpoTrainer(ppoPolicy, reward, PpoTrainer.DefaultArguments with { OutputDir = dir.Sub("api-ppo"), MaxSteps = 1, PerDeviceTrainBatchSize = 4, Seed = 7, SaveSteps = 0 },
                new PpoConfig { MiniBatchSize = 2, MaxNewTokens = 4 }, peftConfig: Lora() with { BaseDtype = BaseDtype.BFloat16 }).Train(Datasets.ReadPrompts(prompts));
        AssertSameAdapterFolder(dir.Sub("cli-ppo"), dir.Sub("api-ppo"), PolicyWithValueHead.ValueHeadFileName);

        // A policy whose own base is bf16 cannot be copied: the error says what to load instead.
        using var packed = LanguageModel.Load(gpt2, dir.Sub("api-dpo"), BaseDtype.BFloat16);
        var ppo = Assert.Throws<ArgumentException>(() => new PpoTrainer(packed, reward, PpoTrainer.DefaultArguments with { OutputDir = dir.Sub("ppo") }));
        Assert.Equal("policy", ppo.ParamName);
        Assert.Contains("BaseDtype.Float32", ppo.Message);
    }

    [Fact]
    public void BadLoraSettingsNameTheParameterAndLeaveTheModelAsItWas()
    {
        using var model = LanguageModel.Load(llama);
        var arguments = Loop(SftCommand.Defaults, dir.Sub("bad"));

        var rank = Assert.Throws<ArgumentOutOfRangeException>(() => new SftTrainer(model, arguments, new LoraConfig { Rank = 0 }));
        Assert.Equal("peftConfig", rank.ParamName);
        Assert.Contains("peftConfig.Rank must be at least 1 (got 0)", rank.Message);
        var dropout = Assert.Throws<ArgumentOutOfRangeException>(() => model.AddAdapters(new LoraConfig { Dropout = 1 }));
        Assert.Equal("config", dropout.ParamName);
        Assert.Contains("config.Dropout", dropout.Message);

        var target = Assert.Throws<ArgumentException>(() => new DpoTrainer(model, arguments, peftConfig: Lora("c_attn")));
        Assert.Equal("peftConfig", target.ParamName);
        Assert.Contains("peftConfig.TargetModules c_attn matches no module", target.Message);
        Assert.Contains("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", target.Message);
        Assert.False(model.HasAdapters);
        Assert.Equal(model.ParameterCount, model.TrainableParameterCount);

        model.AddAdapters(Lora());
        Assert.Throws<InvalidOperationException>(() => new SftTrainer(model, arguments, Lora()));
        Assert.Equal("baseModel", Assert.Throws<ArgumentException>(() => RewardScorer.FromLanguageModel(model)).ParamName);
    }

    [Fact]
    public void AnAdapterOnTheWrongBaseIsAnErrorNamingBothFolders()
    {
        string adapter = dir.Sub("adapter");
        RunCli(["sft", "--model", llama, "--dataset", demonstrations, .. Loop(adapter), .. LoraFlags]);
        string other = TinyModels.Create(dir.Sub("other"), layers: 1, context: 128, family: ModelFamilies.Llama, seed: 2);

        var named = Assert.Throws<ModelFormatException>(() => LanguageModel.Load(other, adapter));
        Assert.Contains(PeftAdapterFolder.ConfigFileName, named.Message);
        Assert.Contains($"but baseFolder is '{other}'", named.Message);
        Assert.Contains(llama, named.Message);

        // base_model_name_or_path unset: the shapes decide, and the error names the tensor and the base folder.
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, PeftAdapterFolder.ConfigFileName)))!;
        config["base_model_name_or_path"] = null;
        File.WriteAllText(Path.Combine(adapter, PeftAdapterFolder.ConfigFileName), config.ToJsonString());
        string wider = TinyModels.Create(dir.Sub("wider"), layers: 1, channels: 48, context: 128, family: ModelFamilies.Llama);
        var shapes = Assert.Throws<ModelFormatException>(() => LanguageModel.Load(wider, adapter));
        Assert.Contains("another base model", shapes.Message);
        Assert.Contains(wider, shapes.Message);
        Assert.Throws<DirectoryNotFoundException>(() => LanguageModel.Load(llama, dir.Sub("missing")));
    }
}
