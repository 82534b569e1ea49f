// `rlhf tokenize`, `rlhf tokenizer train` and `rlhf generate` end to end on a tiny model folder.
using System.Text.Json;
using Rlhf.Text;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class TextCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;

    public TextCommandTests() => model = TinyModels.Create(dir.Sub("model"));

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output) Run(params string[] args) => CliRun.Combined(args);

    [Fact]
    public void TokenizePrintsTheTokenizerIds()
    {
        var (code, output) = Run("tokenize", "--model", model, "--text", "Hello world<|endoftext|>", "--json");
        Assert.Equal(0, code);
        var ids = JsonDocument.Parse(output).RootElement.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        var tokenizer = BpeTokenizer.FromFolder(model);
        Assert.Equal(tokenizer.Encode("Hello world<|endoftext|>"), ids);
        Assert.Equal(tokenizer.EosTokenId, ids[^1]);
    }

    [Fact]
    public void GenerateWritesOneJsonObjectPerPrompt()
    {
        File.WriteAllLines(dir.Sub("prompts.txt"), ["### Question: Hello", "{\"prompt\": \"The quick\"}"]);
        var (code, output) = Run("generate", "--model", model, "--prompts", dir.Sub("prompts.txt"), "--greedy", "--max-new-tokens", "6", "--json");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var tokenizer = BpeTokenizer.FromFolder(model);
        var second = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal("The quick", second.GetProperty("prompt").GetString());
        // The prompt is rendered as in every command: the `### Question/Answer` template (the tiny model has no chat template).
        Assert.Equal("### Question: The quick\n### Answer: ", second.GetProperty("rendered_prompt").GetString());
        Assert.Equal(tokenizer.Encode("### Question: The quick\n### Answer: "), second.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()));
        var raw = JsonDocument.Parse(Run("generate", "--model", model, "--prompt", "The quick", "--raw", "--greedy", "--max-new-tokens", "2", "--json").Output).RootElement;
        Assert.Equal(tokenizer.Encode("The quick"), raw.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()));
        var ids = second.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        Assert.InRange(ids.Length, 1, 6);
        Assert.Equal(ids.Length, second.GetProperty("logprobs").GetArrayLength());
        Assert.All(second.GetProperty("logprobs").EnumerateArray(), x => Assert.True(x.GetDouble() <= 0));
        // Sampling is reproducible from the seed.
        var a = Run("generate", "--model", model, "--prompt", "Hello", "--temperature", "1.2", "--seed", "3", "--json").Output;
        var b = Run("generate", "--model", model, "--prompt", "Hello", "--temperature", "1.2", "--seed", "3", "--json").Output;
        Assert.Equal(a, b);
    }

    [Fact]
    public void GenerateReadsBFloat16WeightsOnRequestAndRejectsUnknownDtypes()
    {
        var (code, output) = Run("generate", "--model", model, "--prompt", "Hello", "--greedy", "--max-new-tokens", "4", "--json", "--weights-dtype", "bfloat16");
        if (Rlhf.Models.InferenceWeights.Supported)
        {
            Assert.Equal(0, code);
            var result = JsonDocument.Parse(output).RootElement;
            Assert.InRange(result.GetProperty("ids").GetArrayLength(), 1, 4);
        }
        else Assert.NotEqual(0, code); // bfloat16 needs AVX-512: a clear error, not a silent fp32 run
        var bad = Run("generate", "--model", model, "--prompt", "Hello", "--weights-dtype", "int8");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("--weights-dtype", bad.Output);
    }

    [Fact]
    public void BadInputsFailWithAnError()
    {
        Assert.NotEqual(0, Run("generate", "--model", model, "--prompt", string.Concat(Enumerable.Repeat("hello world ", 60)), "--max-new-tokens", "4").Code);
        Assert.NotEqual(0, Run("generate", "--model", dir.Sub("missing"), "--prompt", "x").Code);
        Assert.NotEqual(0, Run("generate", "--model", model, "--prompt", "x", "--greedy", "--top-k", "3").Code);
        Assert.NotEqual(0, Run("tokenize", "--model", model).Code);
    }

    [Fact]
    public void TokenizerTrainWritesALoadableVocabulary()
    {
        File.WriteAllLines(dir.Sub("corpus.txt"), Enumerable.Repeat(TinyModels.Corpus, 3).SelectMany(x => x));
        var (code, _) = Run("tokenizer", "train", "--input", dir.Sub("corpus.txt"), "--vocab-size", "300", "--min-frequency", "1", "--output", dir.Sub("tok"));
        Assert.Equal(0, code);
        var tokenizer = BpeTokenizer.FromFolder(dir.Sub("tok"));
        Assert.Equal(300, tokenizer.VocabSize);
        Assert.Equal("Paris is the capital", tokenizer.Decode(tokenizer.Encode("Paris is the capital")));
    }
}
