// PpoTrainer, GrpoTrainer and Datasets.ReadPrompts used wrongly: exceptions that name the parameter and, for ranges,
// the allowed range; and the prompt files `rlhf ppo` reads, read the same.
using Rlhf.Cli.Commands;
using Rlhf.Data;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Grpo;
using Rlhf.Training.Ppo;
using Spectre.Console;
using Xunit;

namespace Rlhf.Tests.Api;

public sealed class RlBadInputTests
{
    private static readonly string[] Texts = ["Q: hi\nA: hello", "Q: bye\nA: goodbye"];
    private static readonly RandomModelOptions Tiny = new() { EmbeddingSize = 16, HeadCount = 2, LayerCount = 1, ContextLength = 32 };
    private static readonly Func<string, string, double> Length = (_, completion) => completion.Length;

    private static TrainingArguments Arguments(TempDirectory temp) => new() { OutputDir = temp.Sub("out"), MaxSteps = 1, SaveSteps = 0, PerDeviceTrainBatchSize = 8 };

    [Fact]
    public void NullsAndEmptyPromptListsAreNamed()
    {
        using var temp = new TempDirectory();
        using var model = LanguageModel.CreateRandom(Texts, Tiny);
        using var scorer = RewardScorer.FromLanguageModel(model);
        Assert.Equal("policy", Assert.Throws<ArgumentNullException>(() => new PpoTrainer(null!, scorer, Arguments(temp))).ParamName);
        Assert.Equal("rewardModel", Assert.Throws<ArgumentNullException>(() => new PpoTrainer(model, null!, Arguments(temp))).ParamName);
        Assert.Equal("arguments", Assert.Throws<ArgumentNullException>(() => new PpoTrainer(model, scorer, null!)).ParamName);
        Assert.Equal("reward", Assert.Throws<ArgumentNullException>(() => new GrpoTrainer(model, (Func<string, string, double>)null!, Arguments(temp))).ParamName);
        Assert.Equal("rewardModel", Assert.Throws<ArgumentNullException>(() => new GrpoTrainer(model, (RewardScorer)null!, Arguments(temp))).ParamName);
        Assert.Equal("policy", Assert.Throws<ArgumentNullException>(() => new GrpoTrainer(null!, Length, Arguments(temp))).ParamName);

        var ppo = new PpoTrainer(model, scorer, Arguments(temp), new PpoConfig { MaxNewTokens = 4 });
        var grpo = new GrpoTrainer(model, Length, Arguments(temp), GrpoConfig.Grpo with { MaxCompletionLength = 4 });
        foreach (var train in new Func<IReadOnlyList<string>, TrainingResult>[] { p => ppo.Train(p), p => grpo.Train(p) })
        {
            Assert.Equal("prompts", Assert.Throws<ArgumentNullException>(() => train(null!)).ParamName);
            Assert.Equal("prompts", Assert.Throws<ArgumentException>(() => train([])).ParamName);
            var withNull = Assert.Throws<ArgumentNullException>(() => train(["Q: hi", null!]));
            Assert.Contains("prompts[1] is null", withNull.Message);
            var tooLong = Assert.Throws<ArgumentException>(() => train([string.Concat(Enumerable.Repeat("hello goodbye ", 40))]));
            Assert.Equal("prompts", tooLong.ParamName);
            Assert.Contains("context of 32 tokens", tooLong.Message);
        }
        Assert.Equal("eval", Assert.Throws<ArgumentException>(() => grpo.Train(["Q: hi"], eval: [])).ParamName);
    }

    [Fact]
    public void ADisposedModelOrRewardModelThrowsObjectDisposed()
    {
        using var temp = new TempDirectory();
        var model = LanguageModel.CreateRandom(Texts, Tiny);
        var scorer = RewardScorer.FromLanguageModel(model);
        var ppo = new PpoTrainer(model, scorer, Arguments(temp), new PpoConfig { MaxNewTokens = 4 });
        var grpo = new GrpoTrainer(model, scorer, Arguments(temp), GrpoConfig.Grpo with { MaxCompletionLength = 4 });
        scorer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ppo.Train(["Q: hi"]));
        Assert.Throws<ObjectDisposedException>(() => grpo.Train(["Q: hi"]));
        Assert.Throws<ObjectDisposedException>(() => new GrpoTrainer(model, scorer, Arguments(temp)));
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new GrpoTrainer(model, Length, Arguments(temp)));
        using var live = LanguageModel.CreateRandom(Texts, Tiny);
        Assert.Throws<ObjectDisposedException>(() => new PpoTrainer(model, RewardScorer.FromLanguageModel(live), Arguments(temp)));
    }

    [Fact]
    public void OptionsOutOfRangeNameTheOptionAndItsRange()
    {
        using var temp = new TempDirectory();
        using var model = LanguageModel.CreateRandom(Texts, Tiny);
        using var scorer = RewardScorer.FromLanguageModel(model);
        var newTokens = Assert.Throws<ArgumentOutOfRangeException>(() => new PpoTrainer(model, scorer, Arguments(temp), new PpoConfig { MaxNewTokens = 32 }));
        Assert.Equal("config.MaxNewTokens", newTokens.ParamName);
        Assert.Contains("[1, 31]", newTokens.Message);
        var gamma = Assert.Throws<ArgumentOutOfRangeException>(() => new PpoTrainer(model, scorer, Arguments(temp), new PpoConfig { Gamma = 2, MaxNewTokens = 4 }));
        Assert.Equal("config", gamma.ParamName);
        Assert.Contains("gamma (2) and lam (0.95) must lie in [0, 1]", gamma.Message);
        var clip = Assert.Throws<ArgumentOutOfRangeException>(() => new PpoTrainer(model, scorer, Arguments(temp), new PpoConfig { ClipRange = 0, MaxNewTokens = 4 }));
        Assert.Contains("cliprange (0)", clip.Message);
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => new PpoTrainer(model, scorer, Arguments(temp) with { PerDeviceTrainBatchSize = 0 }));
        Assert.Equal("arguments", batch.ParamName);

        var groups = Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoTrainer(model, Length, Arguments(temp), GrpoConfig.Grpo with { NumGenerations = 1, MaxCompletionLength = 4 }));
        Assert.Equal("config", groups.ParamName);
        Assert.Contains("num_generations must be ≥ 2", groups.Message);
        var whole = Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoTrainer(model, Length, Arguments(temp) with { PerDeviceTrainBatchSize = 6 }, GrpoConfig.Grpo with { NumGenerations = 4, MaxCompletionLength = 4 }));
        Assert.Contains("(6) must be a multiple of num_generations (4)", whole.Message);
        var epsilon = Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoTrainer(model, Length, Arguments(temp), GrpoConfig.Grpo with { Epsilon = 1, MaxCompletionLength = 4 }));
        Assert.Contains("epsilon must lie in (0, 1) (got 1)", epsilon.Message);
        var completion = Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoTrainer(model, Length, Arguments(temp)));
        Assert.Equal("config.MaxCompletionLength", completion.ParamName);
        Assert.Contains("[1, 31]", completion.Message);
    }

    [Fact]
    public void AReferenceOverAnotherVocabularyIsRefused()
    {
        using var temp = new TempDirectory();
        using var model = LanguageModel.CreateRandom(Texts, Tiny);
        using var other = LanguageModel.CreateRandom(Texts, Tiny with { VocabSize = 258 });
        var error = Assert.Throws<ArgumentException>(() => new GrpoTrainer(model, Length, Arguments(temp), GrpoConfig.Grpo with { MaxCompletionLength = 4, Beta = 0.1 }, other));
        Assert.Equal("reference", error.ParamName);
    }

    /// <summary>What `rlhf ppo` trains on from <paramref name="path"/> (default template, room for 4 new tokens).</summary>
    private static IReadOnlyList<int[]> CliPrompts(string path, BpeTokenizer tokenizer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
        return PpoCommand.ReadPrompts(console, path, tokenizer, PromptStyle.Default, 1000, PpoCommand.QueryOptions(tokenizer, PromptTemplate.Default, 1004, 4));
    }

    [Fact]
    public void ReadPromptsReadsTheFilesRlhfPpoReadsToTheSamePrompts()
    {
        using var temp = new TempDirectory();
        using var model = LanguageModel.CreateRandom(Texts, Tiny);
        var tokenizer = model.Folder.Tokenizer;
        string rows = temp.Sub("prompts.jsonl");
        File.WriteAllLines(rows, [
            "{\"prompt\": \"What is 2 + 3?\", \"answer\": \"5\"}",
            "{\"instruction\": \"Say hi.\"}",
            "{\"question\": \"Why?\"}",
            "{\"chosen\": \"\\n\\nHuman: Is it cold?\\n\\nAssistant: Yes.\", \"rejected\": \"\\n\\nHuman: Is it cold?\\n\\nAssistant: No.\"}",
        ]);
        string lines = temp.Sub("prompts.txt");
        File.WriteAllLines(lines, ["First prompt", "", "Second\\nprompt"]);
        static IEnumerable<string> Keys(IEnumerable<int[]> ids) => ids.Select(p => string.Join(',', p));
        foreach (var path in new[] { rows, lines })
            Assert.Equal(Keys(CliPrompts(path, tokenizer)), Keys(Datasets.ReadPrompts(path).Select(p => tokenizer.Encode(p))));
        // hh-rlhf: the textbook's queries; the CLI also drops rows over 512 tokens of its tokenizer, which the file alone cannot know.
        var queries = Keys(Datasets.ReadPrompts(DataSamples.HhSample).Select(p => tokenizer.Encode(p))).ToList();
        var cli = Keys(CliPrompts(DataSamples.HhSample, tokenizer)).ToList();
        Assert.NotEmpty(cli);
        Assert.Equal(cli, queries.Where(cli.Contains).ToList()); // the CLI's are the same queries, some left out
        Assert.Equal(["### Question: What is 2 + 3?\n### Answer: ", "### Question: Say hi.\n### Answer: ", "### Question: Why?\n### Answer: ", "### Question: Is it cold?\n### Answer: "],
            Datasets.ReadPrompts(rows));
        Assert.Equal("### Question: Second\nprompt\n### Answer: ", Datasets.ReadPrompts(lines)[1]);
    }

    [Fact]
    public void ReadPromptsFlattensMessageListsAndNamesABadRow()
    {
        using var temp = new TempDirectory();
        string path = temp.Sub("chat.jsonl");
        File.WriteAllLines(path, [
            "{\"prompt\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"What is 2 + 3?\"}]}",
            "{\"text\": \"no prompt here\"}",
        ]);
        var error = Assert.Throws<DataFormatException>(() => Datasets.ReadPrompts(path));
        Assert.Contains("chat.jsonl:2", error.Message);
        File.WriteAllLines(path, ["{\"prompt\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"What is 2 + 3?\"}]}"]);
        Assert.Equal("### Question: Be brief.\n\nWhat is 2 + 3?\n### Answer: ", Assert.Single(Datasets.ReadPrompts(path)));
        Assert.Contains("x.jsonl", Assert.Throws<FileNotFoundException>(() => Datasets.ReadPrompts(temp.Sub("x.jsonl"))).Message);
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => Datasets.ReadPrompts(null!)).ParamName);
    }
}
