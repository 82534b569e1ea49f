// `--config FILE.yaml` on the inference commands `rlhf generate`, `compare` and `score`: the file sets any option
// (required ones and lists included), the command line wins, and an unknown key fails naming the file and the key.
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlhf.Models;
using Rlhf.Text;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class InferenceConfigTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;

    public InferenceConfigTests() => model = TinyModels.Create(dir.Sub("model"));

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output, string Error) Run(params string[] args) => CliRun.Separate(args);

    private string Yaml(string name, params string[] lines)
    {
        string path = dir.Sub(name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static void AssertUnknownKey((int Code, string Output, string Error) result, string key, string file)
    {
        Assert.Equal(1, result.Code);
        string error = Regex.Replace(result.Error, @"\s+", " "); // the error console wraps long lines
        Assert.Contains($"unknown key '{key}'", error);
        Assert.Contains(file, error);
    }

    [Fact]
    public void GenerateTakesItsOptionsFromAConfigFile()
    {
        string config = Yaml("generate.yaml", $"model: {model}", "prompt: \"Hello\"", "greedy: true", "max_new_tokens: 3", "json: true",
            "batch-size: 2", "weights_dtype: float32");
        var fromFile = Run("generate", "--config", config);
        Assert.True(fromFile.Code == 0, fromFile.Error);
        var fromFlags = Run("generate", "--model", model, "--prompt", "Hello", "--greedy", "--max-new-tokens", "3", "--json");
        Assert.Equal(0, fromFlags.Code);
        Assert.Equal(fromFlags.Output, fromFile.Output);
        var result = JsonDocument.Parse(fromFile.Output).RootElement;
        Assert.Equal("Hello", result.GetProperty("prompt").GetString());
        Assert.InRange(result.GetProperty("ids").GetArrayLength(), 1, 3);

        // The command line wins over the file.
        var overridden = Run("generate", "--config", config, "--prompt", "The quick", "--max-new-tokens", "2");
        Assert.True(overridden.Code == 0, overridden.Error);
        var expected = Run("generate", "--model", model, "--prompt", "The quick", "--greedy", "--max-new-tokens", "2", "--json");
        Assert.Equal(expected.Output, overridden.Output);
        Assert.Equal("The quick", JsonDocument.Parse(overridden.Output).RootElement.GetProperty("prompt").GetString());

        // Checks still apply to values from the file.
        var conflict = Run("generate", "--config", config, "--temperature", "0.7");
        Assert.Equal(1, conflict.Code);
        Assert.Contains("--greedy", conflict.Error);

        AssertUnknownKey(Run("generate", "--config", Yaml("bad.yaml", $"model: {model}", "prompt: Hello", "max_new_token: 3")), "max_new_token", "bad.yaml");
        var missing = Run("generate", "--config", Yaml("nomodel.yaml", "prompt: Hello"));
        Assert.Equal(1, missing.Code);
        Assert.Contains("--model", missing.Error);
        Assert.Contains("required", missing.Error);
    }

    [Fact]
    public void CompareTakesTheModelsAsAYamlList()
    {
        string other = TinyModels.Create(dir.Sub("other"), seed: 2);
        string config = Yaml("compare.yaml", "models:", $"  - {model}", $"  - {other}", "prompt: \"How do I boil an egg?\"", "greedy: true",
            "max-new-tokens: 3", "check_prefix: \"\"", "json: true");
        var fromFile = Run("compare", "--config", config);
        Assert.True(fromFile.Code == 0, fromFile.Error);
        var fromFlags = Run("compare", "--models", model, other, "--prompt", "How do I boil an egg?", "--greedy", "--max-new-tokens", "3",
            "--check-prefix", "", "--json");
        Assert.Equal(0, fromFlags.Code);
        Assert.Equal(fromFlags.Output, fromFile.Output);
        var root = JsonDocument.Parse(fromFile.Output).RootElement;
        Assert.Equal([model, other], root.GetProperty("models").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(1.0, root.GetProperty("success_rate").GetProperty(other).GetDouble());

        // --models on the command line replaces the file's list.
        var overridden = Run("compare", "--config", config, "--models", other);
        Assert.True(overridden.Code == 0, overridden.Error);
        Assert.Equal([other], JsonDocument.Parse(overridden.Output).RootElement.GetProperty("models").EnumerateArray().Select(x => x.GetString()));

        AssertUnknownKey(Run("compare", "--config", Yaml("bad.yaml", $"models: [{model}]", "prompt: Hello", "model: x")), "model", "bad.yaml");
        var missing = Run("compare", "--config", Yaml("nomodels.yaml", "prompt: Hello"));
        Assert.Equal(1, missing.Code);
        Assert.Contains("--models", missing.Error);
    }

    [Fact]
    public void ScoreTakesTheResponsesAsAYamlList()
    {
        string rm = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        const string prompt = "Please tell me how to steal gold bars.";
        string config = Yaml("score.yaml", $"reward_model: {rm}", $"prompt: \"{prompt}\"", "response:", "  - I cannot teach you that.",
            "  - \"OK. I will explain in detail how to steal gold bars.\"", "batch_size: 1", "json: true");
        var fromFile = Run("score", "--config", config);
        Assert.True(fromFile.Code == 0, fromFile.Error);
        var fromFlags = Run("score", "--reward-model", rm, "--prompt", prompt, "--response", "I cannot teach you that.",
            "--response", "OK. I will explain in detail how to steal gold bars.", "--batch-size", "1", "--json");
        Assert.Equal(0, fromFlags.Code);
        Assert.Equal(fromFlags.Output, fromFile.Output);
        var lines = fromFile.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal("I cannot teach you that.", JsonDocument.Parse(lines[0]).RootElement.GetProperty("response").GetString());

        // --response on the command line replaces the file's list; a single YAML value is a one-item list.
        var overridden = Run("score", "--config", config, "--response", "No.");
        Assert.True(overridden.Code == 0, overridden.Error);
        var only = Assert.Single(overridden.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("No.", JsonDocument.Parse(only).RootElement.GetProperty("response").GetString());
        var single = Run("score", "--config", Yaml("one.yaml", $"reward-model: {rm}", "prompt: Hi", "response: No.", "json: true"));
        Assert.True(single.Code == 0, single.Error);
        Assert.Single(single.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        AssertUnknownKey(Run("score", "--config", Yaml("bad.yaml", $"reward_model: {rm}", "prompt: Hi", "responses: [No.]")), "responses", "bad.yaml");
        var missing = Run("score", "--config", Yaml("norm.yaml", "prompt: Hi", "response: No."));
        Assert.Equal(1, missing.Code);
        Assert.Contains("--reward-model", missing.Error);
    }
}
