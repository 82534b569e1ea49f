// The shared loop with the SFT task: accumulation equivalence, exact resume, stopping at EOS, bad states.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Sft;
using Xunit;

namespace Rlhf.Tests.Training;

public class SftTrainingTests
{
    private const int Eos = 15;

    private static readonly Gpt2Config Gpt2Tiny = new()
    {
        VocabSize = 16, ContextLength = 16, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = Eos, EosTokenId = Eos,
    };

    private static CausalLmConfig Tiny(string family) => ModelFamilies.Tiny(family, Gpt2Tiny);

    /// <summary>"Questions" a b → answers whose length depends on the question, each ending in EOS.</summary>
    private static List<SftExample> Examples()
    {
        var examples = new List<SftExample>();
        for (int a = 1; a <= 4; a++)
            for (int b = 5; b <= 7; b++)
            {
                var answer = Enumerable.Range(0, 1 + (a + b) % 3).Select(i => 8 + (a * b + i) % 6).Append(Eos).ToArray();
                examples.Add(new SftExample([a, b], answer));
            }
        return examples;
    }

    private static float[] Train(string family, TrainingArguments arguments, List<SftExample> data, CancellationToken cancel = default, Action<TrainingProgress>? onProgress = null)
    {
        using var model = CausalLmRegistry.CreateRandom(Tiny(family), seed: 9);
        using var task = new SftTask(model, padTokenId: Eos);
        var loop = new TrainingLoop<SftExample>(task, arguments, data)
        {
            Progress = onProgress is null ? null : new SyncProgress<TrainingProgress>(onProgress),
        };
        loop.Run(cancel);
        return model.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void OneBatchOfFourEqualsFourAccumulatedBatchesOfOne(string family)
    {
        using var dir = new TempDirectory();
        var data = Examples();
        var baseArgs = new TrainingArguments { MaxSteps = 3, LearningRate = 1e-3f, LoggingSteps = 1, SaveSteps = 0, Seed = 4 };
        var large = Train(family, baseArgs with { OutputDir = dir.Sub("a"), PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 1 }, data);
        var accumulated = Train(family, baseArgs with { OutputDir = dir.Sub("b"), PerDeviceTrainBatchSize = 1, GradientAccumulationSteps = 4 }, data);
        double worst = large.Zip(accumulated, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(worst <= 1e-6, $"weights differ by {worst:G3}");
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ResumingFromACheckpointEqualsTheUninterruptedRun(string family)
    {
        using var dir = new TempDirectory();
        var data = Examples();
        var args = new TrainingArguments
        {
            MaxSteps = 8, PerDeviceTrainBatchSize = 3, GradientAccumulationSteps = 2, LearningRate = 3e-3f, WarmupSteps = 2,
            WeightDecay = 0.1f, LoggingSteps = 2, SaveSteps = 0, Seed = 5,
        };
        var uninterrupted = Train(family, args with { OutputDir = dir.Sub("full") }, data);

        // Interrupt after step 5 (as Ctrl-C does): the loop saves a checkpoint and returns.
        using var cancel = new CancellationTokenSource();
        var partial = Train(family, args with { OutputDir = dir.Sub("resumed") }, data, cancel.Token, p => { if (p.Step == 5) cancel.Cancel(); });
        Assert.True(Directory.Exists(Path.Combine(dir.Sub("resumed"), "checkpoint-5")));
        Assert.False(File.Exists(Path.Combine(dir.Sub("resumed"), "model.safetensors")));
        Assert.NotEqual(uninterrupted, partial);

        var resumed = Train(family, args with { OutputDir = dir.Sub("resumed"), ResumeFromCheckpoint = "latest" }, data);
        Assert.Equal(uninterrupted, resumed);
        var log = File.ReadAllLines(Path.Combine(dir.Sub("resumed"), "metrics.jsonl"));
        Assert.Contains(log, line => line.Contains("\"step\":8"));
        // Each logged step appears once across the interrupted and the resumed run.
        var steps = log.Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt32()).ToArray();
        Assert.Equal([2, 4, 6, 8], steps);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void ATinyModelLearnsToStopWithEos(string family)
    {
        using var dir = new TempDirectory();
        var data = Examples();
        using var model = CausalLmRegistry.CreateRandom(Tiny(family), seed: 3);
        using var task = new SftTask(model, padTokenId: Eos); // pad == eos, as GPT-2
        var args = new TrainingArguments
        {
            OutputDir = dir.Path, MaxSteps = 150, PerDeviceTrainBatchSize = 6, LearningRate = 1e-2f, LoggingSteps = 50, SaveSteps = 0,
        };
        new TrainingLoop<SftExample>(task, args, data).Run();
        var results = Generator.Generate(model, data.Select(e => e.PromptIds).ToArray(), new GenerationOptions { MaxNewTokens = 8 });
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal(data[i].ResponseIds, results[i].Ids);
            Assert.True(results[i].EndedWithEos);
        }
        using var saved = CausalLmRegistry.Load(dir.Path); // the loop saved the final model
        Assert.Equal(model.Parameters[ModelFamilies.EmbeddingName(family)].Value.ToArray(), saved.Parameters[ModelFamilies.EmbeddingName(family)].Value.ToArray());
    }

    [Fact]
    public void LabelsComeFromTheBoundaryNotFromPadIds()
    {
        var batch = SftCollator.Collate([new SftExample([1, 2], [3, Eos]), new SftExample([4], [Eos])], padTokenId: Eos);
        // Row 0: 1 2 3 EOS → targets at positions 1 (→3) and 2 (→EOS). Row 1: 4 EOS pad pad → target at 0 (→EOS).
        Assert.Equal([-1, 3, Eos, -1, Eos, -1, -1, -1], batch.Targets);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void AnExistingModelIsNotOverwrittenAndCheckpointsRotate(string family)
    {
        using var dir = new TempDirectory();
        var data = Examples();
        var args = new TrainingArguments { OutputDir = dir.Path, MaxSteps = 6, PerDeviceTrainBatchSize = 4, SaveSteps = 2, SaveTotalLimit = 2, LoggingSteps = 1 };
        Train(family, args, data);
        Assert.Equal(["checkpoint-4", "checkpoint-6"], Directory.GetDirectories(dir.Path).Select(d => Path.GetFileName(d)!).Order().ToArray());
        byte[] before = File.ReadAllBytes(Path.Combine(dir.Path, "model.safetensors"));
        Assert.Throws<IOException>(() => Train(family, args, data));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(dir.Path, "model.safetensors")));
        Train(family, args with { OverwriteOutputDir = true, Seed = 99 }, data);
        Assert.NotEqual(before, File.ReadAllBytes(Path.Combine(dir.Path, "model.safetensors")));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".checkpoint-*"));
    }

    [Fact]
    public void InvalidArgumentsAreReportedWithTheirValues()
    {
        var error = Assert.Throws<ArgumentException>(() => new TrainingArguments { PerDeviceTrainBatchSize = 0, LrSchedulerType = "exp" }.Validate());
        Assert.Contains("per_device_train_batch_size must be > 0 (got 0)", error.Message);
        Assert.Contains("exp", error.Message);
    }
}

/// <summary>IProgress that reports synchronously on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
