// Using the public API wrongly gets exceptions that name the parameter and, for ranges, the allowed range.
using Rlhf.Models.Generation;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Xunit;

namespace Rlhf.Tests.Api;

public sealed class BadInputTests
{
    private static readonly string[] Texts = ["Q: hi\nA: hello", "Q: bye\nA: goodbye"];
    private static readonly RandomModelOptions Tiny = new() { EmbeddingSize = 16, HeadCount = 2, LayerCount = 1, ContextLength = 32 };

    private static TrainingArguments Arguments(TempDirectory temp) => new() { OutputDir = temp.Sub("out"), MaxSteps = 1, SaveSteps = 0 };

    [Fact]
    public void NullArgumentsAreNamed()
    {
        Assert.Equal("tokenizerTexts", Assert.Throws<ArgumentNullException>(() => LanguageModel.CreateRandom(null!)).ParamName);
        Assert.Equal("folder", Assert.Throws<ArgumentNullException>(() => LanguageModel.Load(null!)).ParamName);
        using var model = LanguageModel.CreateRandom(Texts, Tiny);
        Assert.Equal("prompt", Assert.Throws<ArgumentNullException>(() => model.Generate((string)null!)).ParamName);
        Assert.Equal("policy", Assert.Throws<ArgumentNullException>(() => new DpoTrainer(null!, new TrainingArguments())).ParamName);
        Assert.Equal("arguments", Assert.Throws<ArgumentNullException>(() => new SftTrainer(model, null!)).ParamName);
        using var temp = new TempDirectory();
        var trainer = new DpoTrainer(model, Arguments(temp));
        Assert.Equal("train", Assert.Throws<ArgumentNullException>(() => trainer.Train(null!)).ParamName);
        var withNull = Assert.Throws<ArgumentNullException>(() => trainer.Train([new("p", "c", "r"), null!]));
        Assert.Equal("train", withNull.ParamName);
        Assert.Contains("train[1] is null", withNull.Message);
        Assert.Equal("train", Assert.Throws<ArgumentException>(() => trainer.Train([])).ParamName);
    }

    [Fact]
    public void ADisposedModelThrowsObjectDisposed()
    {
        var model = LanguageModel.CreateRandom(Texts, Tiny);
        model.Dispose();
        model.Dispose(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => model.Generate("Q:"));
        Assert.Throws<ObjectDisposedException>(() => model.Encode("Q:"));
        Assert.Throws<ObjectDisposedException>(() => model.VocabSize);
        Assert.Throws<ObjectDisposedException>(() => new DpoTrainer(model, new TrainingArguments()));
        Assert.Throws<ObjectDisposedException>(() => RewardScorer.FromLanguageModel(model));
    }

    [Fact]
    public void ATrainerUsedAfterItsModelIsDisposedThrowsObjectDisposed()
    {
        using var temp = new TempDirectory();
        var model = LanguageModel.CreateRandom(Texts, Tiny);
        var trainer = new SftTrainer(model, Arguments(temp));
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => trainer.Train([new("Q: hi\nA:", " hello")]));
        var scorer = RewardScorer.FromLanguageModel(LanguageModel.CreateRandom(Texts, Tiny));
        scorer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => scorer.Score("Q:", "A"));
    }

    [Fact]
    public void OptionsOutOfRangeNameTheOptionAndItsRange()
    {
        var shape = Assert.Throws<ArgumentOutOfRangeException>(() => LanguageModel.CreateRandom(Texts, Tiny with { LayerCount = 0 }));
        Assert.Equal("LayerCount", shape.ParamName);
        Assert.Contains("[1, 64]", shape.Message);
        Assert.Equal("EmbeddingSize", Assert.Throws<ArgumentOutOfRangeException>(() => LanguageModel.CreateRandom(Texts, Tiny with { EmbeddingSize = 18, HeadCount = 4 })).ParamName);

        using var model = LanguageModel.CreateRandom(Texts, Tiny);
        var arguments = Assert.Throws<ArgumentOutOfRangeException>(() => new SftTrainer(model, new TrainingArguments { LearningRate = -1 }));
        Assert.Equal("arguments", arguments.ParamName);
        Assert.Contains("learning_rate must be a finite number ≥ 0 (got -1)", arguments.Message);
        var beta = Assert.Throws<ArgumentOutOfRangeException>(() => new DpoTrainer(model, new TrainingArguments(), new DpoConfig { Beta = 0 }));
        Assert.Equal("Beta", beta.ParamName);
        Assert.Contains("beta", beta.Message, StringComparison.OrdinalIgnoreCase);
        var lengths = Assert.Throws<ArgumentOutOfRangeException>(() => new DpoTrainer(model, new TrainingArguments(), new DpoConfig { MaxPromptLength = 600 }));
        Assert.Contains("0 < max_prompt_length < max_length", lengths.Message);
        var topP = Assert.Throws<ArgumentException>(() => model.Generate("Q:", new GenerationOptions { TopP = 2 }));
        Assert.Contains("top_p must lie in (0, 1] (got 2)", topP.Message);
        using var scorer = RewardScorer.FromLanguageModel(model);
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => scorer.Score([("Q:", "A")], batchSize: 0));
        Assert.Equal("batchSize", batch.ParamName);
        Assert.Contains("[1, 4096]", batch.Message);
    }

    [Fact]
    public void AMissingFileOrFolderIsNamed()
    {
        using var temp = new TempDirectory();
        Assert.Contains(temp.Sub("none"), Assert.Throws<DirectoryNotFoundException>(() => LanguageModel.Load(temp.Sub("none"))).Message);
        Assert.Contains("x.jsonl", Assert.Throws<FileNotFoundException>(() => Datasets.ReadPreferences(temp.Sub("x.jsonl"))).Message);
    }

    [Fact]
    public void AMalformedDataRowNamesTheFileAndLine()
    {
        using var temp = new TempDirectory();
        string path = temp.Sub("pairs.jsonl");
        File.WriteAllText(path, "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\n{\"prompt\":\"p\",\"chosen\":\n");
        var e = Assert.Throws<Rlhf.Data.DataFormatException>(() => Datasets.ReadPreferences(path));
        Assert.Contains("pairs.jsonl:2", e.Message);
    }
}
