// The shared loop's divergence policy and its saves: non-finite steps skipped and counted, runs that diverge stopped
// with the last good model (never the diverged one), the final save all-or-nothing, leftovers of killed runs removed.
using System.Globalization;
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Sft;
using Xunit;

namespace Rlhf.Tests.Training;

public sealed class DivergencePolicyTests
{
    /// <summary>
    /// A task whose step n (1-based) reports <c>losses(n)</c>; a non-finite loss also makes the gradient NaN. The
    /// "model" it saves is config.json holding the weight and the number of steps that produced it.
    /// </summary>
    private sealed class ScriptedTask(Func<int, double> losses, int failSaveAfterFiles = -1) : ITrainingTask<int>, IDisposable
    {
        public ParameterSet Parameters { get; } = new([("w", [2], true)]);
        public int Calls { get; private set; }

        public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<int>> microBatches)
        {
            Calls++;
            double loss = losses(Calls);
            Parameters["w"].Gradient.Span.Fill(double.IsFinite(loss) ? 1f : float.NaN);
            return new Dictionary<string, double> { ["loss"] = loss };
        }

        public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<int> examples, int batchSize) => new Dictionary<string, double>();

        public void SaveModel(string directory)
        {
            File.WriteAllText(Path.Combine(directory, "model.safetensors"), "weights");
            if (failSaveAfterFiles == 1) throw new IOException("No space left on device");
            File.WriteAllText(Path.Combine(directory, "tokenizer.json"), "{}");
            File.WriteAllText(Path.Combine(directory, "config.json"), $"{Parameters["w"].Value.Span[0].ToString("R", CultureInfo.InvariantCulture)} after {Calls}");
        }

        public void LoadModel(string directory) { }

        public void Dispose() => Parameters.Dispose();
    }

    private static TrainingArguments Arguments(string output) => new()
    {
        OutputDir = output, MaxSteps = 20, PerDeviceTrainBatchSize = 1, LearningRate = 0.01f, LoggingSteps = 1, SaveSteps = 2, SaveTotalLimit = 0,
        LrSchedulerType = "constant",
    };

    private static readonly int[] Data = [1, 2, 3, 4];

    private static string Checkpoint(string output, int step) => Path.Combine(output, $"checkpoint-{step}");

    [Fact]
    public void IsolatedNonFiniteStepsAreSkippedCountedAndTheRunFinishes()
    {
        using var dir = new TempDirectory();
        using var task = new ScriptedTask(n => n is 3 or 7 ? double.NaN : 1.0);
        var result = new TrainingLoop<int>(task, Arguments(dir.Path), Data).Run();
        Assert.Equal(2, result.SkippedSteps);
        Assert.Equal(20, result.GlobalStep);
        Assert.Equal("after 20", File.ReadAllText(Path.Combine(dir.Path, "config.json")).Split(' ', 2)[1]);
    }

    [Fact]
    public void NonFiniteStepsInARowStopTheRunWithTheLastGoodCheckpoint()
    {
        using var dir = new TempDirectory();
        using var task = new ScriptedTask(n => n <= 5 ? 1.0 : double.PositiveInfinity);
        var error = Assert.Throws<TrainingDivergedException>(() =>
            new TrainingLoop<int>(task, Arguments(dir.Path) with { MaxNonFiniteSteps = 3 }, Data).Run());
        // Steps 6, 7, 8 are bad; step 6's loss came from the weights after step 5, so checkpoint-6 (those weights) is
        // discarded and checkpoint-4 is the last good one; nothing is saved at step 8.
        Assert.Equal(8, error.Step);
        Assert.Equal(Checkpoint(dir.Path, 4), error.LastGoodCheckpoint);
        Assert.Contains("3 steps in a row had a non-finite loss", error.Message);
        Assert.Equal([Checkpoint(dir.Path, 2), Checkpoint(dir.Path, 4)], Directory.GetDirectories(dir.Path, "checkpoint-*").Order());
        Assert.Equal(File.ReadAllText(Path.Combine(Checkpoint(dir.Path, 4), "config.json")), File.ReadAllText(Path.Combine(dir.Path, "config.json")));
        Assert.False(File.Exists(Path.Combine(dir.Path, CheckpointStore.OptimizerFileName)));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void ALossFarAboveItsStartStopsTheRun()
    {
        using var dir = new TempDirectory();
        Func<int, double> losses = n => n < 5 ? 2.0 - 0.1 * n : 1e7;
        using (var task = new ScriptedTask(losses))
        {
            var error = Assert.Throws<TrainingDivergedException>(() =>
                new TrainingLoop<int>(task, Arguments(dir.Path) with { SaveSteps = 1 }, Data).Run());
            Assert.Equal(5, error.Step);
            Assert.Contains("the loss rose to 1E+07, over 100× its first value 1.9", error.Message);
            Assert.Equal(Checkpoint(dir.Path, 3), error.LastGoodCheckpoint);
            Assert.Equal(3, Directory.GetDirectories(dir.Path, "checkpoint-*").Length);
        }
        using (var task = new ScriptedTask(losses))
        {
            var result = new TrainingLoop<int>(task, Arguments(dir.Sub("off")) with { DivergenceLossRatio = 0 }, Data).Run();
            Assert.Equal(20, result.GlobalStep);
        }
    }

    [Fact]
    public void DivergenceBeforeAnyGoodCheckpointSavesNothing()
    {
        using var dir = new TempDirectory();
        using var task = new ScriptedTask(n => n == 1 ? 1.0 : double.NaN);
        var error = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop<int>(task, Arguments(dir.Path), Data).Run());
        Assert.Equal(11, error.Step); // steps 2..11: the default of 10 in a row
        Assert.Null(error.LastGoodCheckpoint);
        Assert.Contains("no model was saved", error.Message);
        Assert.False(CheckpointStore.HoldsModel(dir.Path));
        Assert.Empty(Directory.GetDirectories(dir.Path, "checkpoint-*"));
    }

    [Fact]
    public void AnSftRunAtAHugeLearningRateStopsAndSavesNoDivergedWeights()
    {
        using var dir = new TempDirectory();
        var config = new Gpt2Config { VocabSize = 16, ContextLength = 16, EmbeddingSize = 16, LayerCount = 1, HeadCount = 2, BosTokenId = 15, EosTokenId = 15 };
        using var model = Gpt2Model.CreateRandom(config, seed: 3);
        using var task = new SftTask(model, padTokenId: 15);
        var data = Enumerable.Range(1, 8).Select(i => new SftExample([i, i + 1], [i + 2, 15])).ToArray();
        var arguments = new TrainingArguments { OutputDir = dir.Path, MaxSteps = 40, PerDeviceTrainBatchSize = 2, LearningRate = 1e30f, SaveSteps = 0 };
        var error = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop<SftExample>(task, arguments, data).Run());
        Assert.True(error.Step < 40);
        Assert.False(File.Exists(Path.Combine(dir.Path, Gpt2Model.WeightsFileName)));
        Assert.False(CheckpointStore.HoldsModel(dir.Path));
    }

    [Fact]
    public void AFailingFinalSaveLeavesNoModelAndNoTemporaries()
    {
        using var dir = new TempDirectory();
        using var task = new ScriptedTask(_ => 1.0, failSaveAfterFiles: 1);
        var arguments = Arguments(dir.Path) with { MaxSteps = 2, SaveSteps = 0 };
        Assert.Throws<IOException>(() => new TrainingLoop<int>(task, arguments, Data).Run());
        Assert.False(CheckpointStore.HoldsModel(dir.Path));
        Assert.False(File.Exists(Path.Combine(dir.Path, "model.safetensors")));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path, ".final.tmp-*"));

        // An earlier model stays whole when replacing it fails.
        using var good = new ScriptedTask(_ => 1.0);
        new TrainingLoop<int>(good, arguments, Data).Run();
        string before = File.ReadAllText(Path.Combine(dir.Path, "config.json"));
        using var failing = new ScriptedTask(_ => 1.0, failSaveAfterFiles: 1);
        Assert.Throws<IOException>(() => new TrainingLoop<int>(failing, arguments with { OverwriteOutputDir = true }, Data).Run());
        Assert.Equal(before, File.ReadAllText(Path.Combine(dir.Path, "config.json")));
    }

    [Fact]
    public void LeftoversOfAKilledRunAreRemovedAtTheNextStart()
    {
        using var dir = new TempDirectory();
        string guid = Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(Path.Combine(dir.Path, $".checkpoint-3.tmp-{guid}"));
        File.WriteAllText(Path.Combine(dir.Path, $".checkpoint-3.tmp-{guid}", "model.safetensors"), "half");
        Directory.CreateDirectory(Path.Combine(dir.Path, $".final.tmp-{guid}"));
        File.WriteAllText(Path.Combine(dir.Path, $"metrics.jsonl.tmp-{guid}"), "half");
        File.WriteAllText(Path.Combine(dir.Path, "notes.tmp-mine"), "the user's");
        using var task = new ScriptedTask(_ => 1.0);
        new TrainingLoop<int>(task, Arguments(dir.Path) with { MaxSteps = 1, SaveSteps = 0 }, Data).Run();
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path, $"*{guid}*"));
        Assert.True(File.Exists(Path.Combine(dir.Path, "notes.tmp-mine")));
    }
}
