// The public API end to end on tiny models: what it trains, saves and loads again is the same model.
using Rlhf.Tests.Support;
using Rlhf.Training;
using Xunit;

namespace Rlhf.Tests.Api;

public sealed class ApiRoundTripTests
{
    private static readonly RandomModelOptions Tiny = new() { EmbeddingSize = 16, HeadCount = 2, LayerCount = 1, ContextLength = 32 };

    [Fact]
    public void SftLowersTheLossReportsProgressAndTheSavedFolderGeneratesTheSame()
    {
        using var temp = new TempDirectory();
        Demonstration[] data = [new("Q: hi\nA:", " hello"), new("Q: bye\nA:", " goodbye")];
        using var model = LanguageModel.CreateRandom(data.Select(d => d.Prompt + d.Response), Tiny);
        var trainer = new SftTrainer(model, new TrainingArguments { OutputDir = temp.Sub("sft"), MaxSteps = 30, PerDeviceTrainBatchSize = 2, LearningRate = 1e-2f, LoggingSteps = 10, SaveSteps = 0 });
        var events = new List<TrainingProgress>();
        trainer.Progress += (sender, p) =>
        {
            Assert.Same(trainer, sender);
            events.Add(p);
        };
        var result = trainer.Train(data);
        Assert.Equal(30, result.GlobalStep);
        Assert.Equal(30, events.Count(e => e.Event is "step" or "log"));
        var logs = events.Where(e => e.Event == "log").Select(e => e.Metrics["loss"]).ToArray();
        Assert.True(logs[^1] < 0.5 * logs[0], $"SFT loss went {string.Join(" → ", logs)}");

        string generated = model.Generate("Q: hi\nA:", new() { MaxNewTokens = 3 });
        model.Save(temp.Sub("saved"));
        using var loaded = LanguageModel.Load(temp.Sub("saved"));
        Assert.Equal(generated, loaded.Generate("Q: hi\nA:", new() { MaxNewTokens = 3 }));
        Assert.Equal(model.VocabSize, loaded.VocabSize);
        Assert.Equal("gpt2", loaded.ModelType);
    }

    [Fact]
    public void ARewardScorerSavedAndLoadedScoresTheSame()
    {
        using var temp = new TempDirectory();
        using var model = LanguageModel.CreateRandom(["Q: a\nA: yes", "Q: b\nA: no"], Tiny);
        using var scorer = RewardScorer.FromLanguageModel(model, seed: 3);
        float before = scorer.Score("Q: a\nA:", " yes");
        scorer.Save(temp.Sub("rm"));
        using var loaded = RewardScorer.Load(temp.Sub("rm"));
        Assert.Equal(before, loaded.Score("Q: a\nA:", " yes"), 5);
        Assert.Equal(Rlhf.Models.RewardPooling.LastToken, loaded.Pooling);
    }

    [Fact]
    public void DatasetsReadAFileAsTheCliDoes()
    {
        using var temp = new TempDirectory();
        string path = temp.Sub("pairs.jsonl");
        File.WriteAllText(path, "{\"prompt\":\"Why?\",\"chosen\":\"Because.\",\"rejected\":\"No.\"}\n");
        var pair = Assert.Single(Datasets.ReadPreferences(path));
        Assert.Contains("Why?", pair.Prompt);
        Assert.Equal(("Because.", "No."), (pair.Chosen.Trim(), pair.Rejected.Trim()));
    }
}
