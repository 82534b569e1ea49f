// One prompt story: generate, compare, score, label and ppo render a prompt the same way (the `### Question/Answer`
// template for a model without a chat template; --template and --raw), and read `\n` in options the same way.
using System.Text.Json;
using Rlhf.Cli.Commands;
using Rlhf.Data;
using Rlhf.Feedback;
using Rlhf.Text;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class PromptStoryTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;

    public PromptStoryTests() => model = TinyModels.Create(dir.Sub("model"));

    public void Dispose() => dir.Dispose();

    [Fact]
    public void TheStyleIsTheTemplateUnlessTemplateOrRawSayOtherwise()
    {
        Assert.Equal("### Question: Hi?\n### Answer: ", PromptStyle.Resolve(null, raw: false).Render("Hi?"));
        Assert.Equal("Hi?", PromptStyle.Resolve(null, raw: true).Render("Hi?"));
        Assert.Equal("Q: Hi?\nA: ", PromptStyle.Resolve("Q: {instruction}\\nA: ", raw: false).Render("Hi?")); // no {response}: at the end
        Assert.Equal("<Hi?>", PromptStyle.Resolve("<{instruction}>{response}{eos}", raw: false).Render("Hi?"));
        Assert.Contains("at most one of --template and --raw", Assert.Throws<ArgumentException>(() => PromptStyle.Resolve("{instruction}", raw: true)).Message);
        Assert.Throws<TemplateFormatException>(() => PromptStyle.Resolve("{question}", raw: false));
        // No tokenizer has a chat template yet: the template is the default for every model.
        Assert.Equal(PromptStyle.Source.Template, PromptStyle.Resolve(null, false, model).Kind);
        // The label page's prompts and the default style agree.
        Assert.Equal(LabelPrompt.Create("Hi?").Rendered, PromptStyle.Default.Render("Hi?"));
    }

    [Theory]
    [InlineData("a\\nb", "a\nb")]
    [InlineData("a\\tb", "a\tb")]
    [InlineData("a\\\\nb", "a\\nb")] // an escaped backslash keeps the n
    [InlineData("C:\\data\\x.txt", "C:\\data\\x.txt")] // other backslashes stay
    [InlineData("end\\", "end\\")]
    [InlineData("no escapes", "no escapes")]
    public void BackslashEscapesFollowOneRule(string typed, string meant) => Assert.Equal(meant, PromptStyle.Unescape(typed));

    private static JsonElement Json(string output) => JsonDocument.Parse(output).RootElement;

    private static string Generate(params string[] args)
    {
        var (code, output, error) = CliRun.Separate(["generate", .. args, "--greedy", "--max-new-tokens", "5", "--json"]);
        Assert.True(code == 0, error);
        return Json(output).GetProperty("text").GetString()!;
    }

    private static string Compare(params string[] args)
    {
        var (code, output, error) = CliRun.Separate(["compare", .. args, "--greedy", "--max-new-tokens", "5", "--json"]);
        Assert.True(code == 0, error);
        return Json(output).GetProperty("outputs")[0][0].GetString()!;
    }

    [Fact]
    public void GenerateAndCompareRenderAPromptAlike()
    {
        var tokenizer = BpeTokenizer.FromFolder(model);
        var (_, json, _) = CliRun.Separate("generate", "--model", model, "--prompt", "Hello there", "--greedy", "--max-new-tokens", "3", "--json");
        Assert.Equal(tokenizer.Encode("### Question: Hello there\n### Answer: "), Json(json).GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()));

        Assert.Equal(Generate("--model", model, "--prompt", "Hello there"), Compare("--models", model, "--prompt", "Hello there"));
        Assert.Equal(Generate("--model", model, "--prompt", "Hello there", "--raw"), Compare("--models", model, "--prompt", "Hello there", "--raw"));
        Assert.Equal(Generate("--model", model, "--prompt", "quick", "--template", "The {instruction} brown"),
            Compare("--models", model, "--prompt", "quick", "--template", "The {instruction} brown"));
        // The template typed out with \n, sent raw, is the default rendering: `\n` in --prompt is a newline.
        Assert.Equal(Generate("--model", model, "--prompt", "Hello there"), Generate("--model", model, "--raw", "--prompt", "### Question: Hello there\\n### Answer: "));
        Assert.Equal(Generate("--model", model, "--prompt", "Hello there"), Generate("--model", model, "--template", "### Question: {instruction}\\n### Answer: ", "--prompt", "Hello there"));
    }

    [Fact]
    public void PromptsTooLongForTheContextAreAnErrorOrACountedWarning()
    {
        string longPrompt = string.Concat(Enumerable.Repeat("hello world ", 60));
        foreach (var command in new[] { "generate", "compare" })
        {
            string modelOption = command == "generate" ? "--model" : "--models";
            var failed = CliRun.Separate(command, modelOption, model, "--prompt", longPrompt, "--max-new-tokens", "4", "--greedy");
            Assert.Equal(1, failed.Code);
            Assert.Contains("prompt 1 is", failed.Error);
            Assert.Contains("--truncate-left", failed.Error);
            var cut = CliRun.Separate(command, modelOption, model, "--prompt", longPrompt, "--max-new-tokens", "4", "--greedy", "--truncate-left", "--json");
            Assert.True(cut.Code == 0, cut.Error);
            Assert.Contains("warning: 1 of 1 prompts were longer than 60 tokens and were cut from the left", cut.Error);
        }

        string rm = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        var scored = CliRun.Separate("score", "--reward-model", rm, "--prompt", longPrompt, "--response", "No.", "--response", "Yes.", "--json");
        Assert.True(scored.Code == 0, scored.Error);
        Assert.Contains("warning: 2 of 2 texts were longer than the reward model's context of 64 tokens", scored.Error);
    }

    [Fact]
    public void ScoreRendersThePromptAsTheOtherCommandsDo()
    {
        string rm = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        double Score(params string[] args)
        {
            var (code, output, error) = CliRun.Separate(["score", "--reward-model", rm, .. args, "--json"]);
            Assert.True(code == 0, error);
            return Json(output).GetProperty("score").GetDouble();
        }
        // Default = the template + EOS; --raw with the same text typed out (\n escapes) scores identically.
        double templated = Score("--prompt", "Hi", "--response", "No.");
        Assert.Equal(templated, Score("--raw", "--prompt", "### Question: Hi\\n### Answer: ", "--response", "No."));
        Assert.NotEqual(templated, Score("--raw", "--prompt", "Hi", "--response", "No."));
    }

    [Fact]
    public void PpoAndLabelReadPromptFilesWithTheSameRules()
    {
        var tokenizer = BpeTokenizer.FromFolder(model);
        File.WriteAllLines(dir.Sub("prompts.txt"), ["first\\nline", "second"]);
        var console = Rlhf.Cli.CliConsole.Create(new StringWriter(), terminal: false, noColor: true);
        var ppo = PpoCommand.ReadPrompts(console, dir.Sub("prompts.txt"), tokenizer, PromptStyle.Default, 1000,
            PpoCommand.QueryOptions(tokenizer, PromptStyle.Default.Template, 64, 4));
        Assert.Equal(tokenizer.Encode("### Question: first\nline\n### Answer: "), ppo[0]);
        var label = LabelPrompt.Load(dir.Sub("prompts.txt"), PromptStyle.Default.Render);
        Assert.Equal("first\nline", label[0].Text);
        Assert.Equal(tokenizer.Encode(label[0].Rendered), ppo[0]);
        var generated = PromptInput.Read(null, dir.Sub("prompts.txt"));
        Assert.Equal(["first\nline", "second"], generated);
    }
}
