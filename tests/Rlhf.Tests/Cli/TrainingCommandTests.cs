// `rlhf data`, `sft`, `reward`, `score`, `dpo` and `compare` end to end on a tiny model folder and the shipped hh-rlhf sample.
using System.Text.Json;
using System.Text.RegularExpressions;
using System.CommandLine;
using Rlhf.Cli;
using Rlhf.Cli.Commands;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Sft;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public class TrainingCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string sample = DataSamples.HhSample;

    public TrainingCommandTests() => model = TinyModels.Create(dir.Sub("model"), context: 128);

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output, string Error) Run(params string[] args) => CliRun.Separate(args);

    private static void AssertStep(string output, string step, int count) =>
        Assert.Matches(new Regex($@"^\s+{Regex.Escape(step)}\s+{count}\b", RegexOptions.Multiline), output);

    private string[] Sft(string output, params string[] extra) =>
        ["sft", "--model", model, "--dataset", sample, "--output", output, "--max-steps", "2", "--per-device-train-batch-size", "2", .. extra];

    [Fact]
    public void DataInspectPrintsTheDocumentedCounts()
    {
        var (code, output, _) = Run("data", "inspect", "--dataset", sample, "--let-me-explain");
        Assert.Equal(0, code);
        Assert.Contains("length filter is skipped", output);
        AssertStep(output, "read", 320);
        AssertStep(output, "single-turn", 202);
        AssertStep(output, "extract", 198);
        AssertStep(output, "let-me-explain", 192);
        Assert.Matches(@"multi-turn\s+118", output);

        var own = Run("data", "inspect", "--dataset", sample, "--json");
        Assert.Equal(0, own.Code);
        var steps = JsonDocument.Parse(own.Output.Split('\n').First(l => l.StartsWith('{'))).RootElement.GetProperty("steps")
            .EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("count").GetInt32());
        Assert.Equal(201, steps["extract"]); // reward data: an empty answer is kept, a text without "Assistant: " is not
    }

    // The optional data steps' flags reach the pipeline: the last step's count equals the library's with the same option.
    [Theory]
    [InlineData("--drop-empty-answers", 198)]
    [InlineData("--drop-identical-pairs", 196)]
    public void OptionalDataStepFlagsReachThePipeline(string flag, int pinned)
    {
        var options = new Rlhf.Data.DataPipelineOptions { DropEmptyAnswers = flag == "--drop-empty-answers", DropIdenticalPairs = flag == "--drop-identical-pairs" };
        Assert.Equal(pinned, Rlhf.Data.PreferencePipeline.Run(sample, options).Examples.Count);
        var (code, output, error) = Run("data", "inspect", "--dataset", sample, "--json", flag);
        Assert.True(code == 0, error);
        var steps = JsonDocument.Parse(output.Split('\n').First(l => l.StartsWith('{'))).RootElement.GetProperty("steps");
        Assert.Equal(pinned, steps[steps.GetArrayLength() - 1].GetProperty("count").GetInt32());
    }

    [Fact]
    public void HhExtractionLastTurnReachesThePipeline()
    {
        var options = new Rlhf.Data.DataPipelineOptions { SingleTurnOnly = false, Extraction = Rlhf.Data.HhExtraction.LastTurn };
        var expected = Rlhf.Data.PreferencePipeline.Run(sample, options).Examples.Select(e => e.Prompt).ToArray();
        string pairs = dir.Sub("last-turn.jsonl");
        var (code, _, error) = Run("data", "convert", "--dataset", sample, "--no-single-turn", "--hh-extraction", "last-turn", "--output", pairs);
        Assert.True(code == 0, error);
        var prompts = File.ReadAllLines(pairs).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("prompt").GetString()).ToArray();
        Assert.Equal(expected, prompts);
        Assert.Contains(prompts, p => p!.Contains("Human: ")); // multi-turn rows keep their earlier turns as the prompt
    }

    [Fact]
    public void DataConvertWritesValidJsonl()
    {
        string pairs = dir.Sub("pairs.jsonl"), sft = dir.Sub("sft.jsonl.gz");
        var (code, output, _) = Run("data", "convert", "--dataset", sample, "--let-me-explain", "--model", model, "--output", pairs);
        Assert.Equal(0, code);
        var rows = File.ReadAllLines(pairs).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.NotEmpty(rows);
        Assert.Contains($"Wrote {rows.Length} pairs rows", output);
        Assert.All(rows, r =>
        {
            Assert.StartsWith("### Question: ", r.GetProperty("prompt").GetString());
            Assert.StartsWith("Let me explain. ", r.GetProperty("chosen").GetString());
            Assert.EndsWith("<|endoftext|>", r.GetProperty("rejected").GetString());
        });
        Assert.Equal(0, Run("data", "convert", "--dataset", sample, "--to", "sft", "--output", sft).Code);
        Assert.Equal(201, Rlhf.Data.DataRowReader.Read(sft).Count(r => r.Has("prompt") && r.Has("response")));
    }

    [Fact]
    public void SftWritesAFolderThatGenerateLoads()
    {
        string output = dir.Sub("sft");
        var (code, text, error) = Run(Sft(output, "--logging-steps", "1", "--eval-split", "0.1"));
        Assert.True(code == 0, error);
        Assert.Contains("eval_loss", text);
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "metrics.jsonl", "rlhf_config.yaml" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        var metrics = File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Contains(metrics, m => m.TryGetProperty("loss", out _) && m.GetProperty("step").GetInt32() == 2);
        Assert.Equal(0, Run("generate", "--model", output, "--prompt", "### Question: Hello\n### Answer: ", "--max-new-tokens", "4", "--greedy").Code);
    }

    [Fact]
    public void ConfigFileSetsOptionsAndTheCommandLineWins()
    {
        string config = dir.Sub("run.yaml"), output = dir.Sub("sft");
        File.WriteAllText(config, "learning_rate: 0.001\nmax-steps: 3\nlogging_steps: 1\nper_device_train_batch_size: 2\n");
        var (code, _, error) = Run("sft", "--model", model, "--dataset", sample, "--output", output, "--config", config, "--max-steps", "1");
        Assert.True(code == 0, error);
        string resolved = File.ReadAllText(Path.Combine(output, "rlhf_config.yaml"));
        Assert.Contains("learning_rate: 0.001", resolved);
        Assert.Contains("max_steps: 1", resolved);
        Assert.Contains("per_device_train_batch_size: 2", resolved);
        Assert.Contains("num_train_epochs: 3", resolved); // the command's default
        var last = JsonDocument.Parse(File.ReadAllLines(Path.Combine(output, "metrics.jsonl"))[^1]).RootElement;
        Assert.Equal(1, last.GetProperty("step").GetInt32());
        Assert.Equal(0.001, last.GetProperty("learning_rate").GetDouble(), 6);

        // The resolved file is itself a valid --config.
        Assert.Equal(0, Run("sft", "--config", Path.Combine(output, "rlhf_config.yaml"), "--output", dir.Sub("again")).Code);

        File.WriteAllText(config, "learning_rat: 0.001\n");
        var bad = Run("sft", "--model", model, "--dataset", sample, "--output", dir.Sub("bad"), "--config", config);
        Assert.Equal(1, bad.Code);
        Assert.Contains("learning_rat", bad.Error);
        Assert.Contains("run.yaml", bad.Error);
        Assert.False(Directory.Exists(dir.Sub("bad")));
    }

    [Fact]
    public void AnExistingModelIsNotReplacedWithoutOverwrite()
    {
        string output = dir.Sub("sft");
        Assert.Equal(0, Run(Sft(output)).Code);
        var before = File.ReadAllBytes(Path.Combine(output, "model.safetensors"));
        var (code, _, error) = Run(Sft(output, "--learning-rate", "0.01"));
        Assert.NotEqual(0, code);
        Assert.Contains("--overwrite-output-dir", error);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
        Assert.Equal(0, Run(Sft(output, "--learning-rate", "0.01", "--overwrite-output-dir")).Code);
        Assert.NotEqual(before, File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
    }

    [Fact]
    public void RewardTrainsAndScorePrintsTwoScores()
    {
        string output = dir.Sub("rm");
        var (code, text, error) = Run("reward", "--model", model, "--dataset", sample, "--output", output, "--max-steps", "3",
            "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "1", "--eval-split", "0.1");
        Assert.True(code == 0, error);
        foreach (var name in new[] { "eval_accuracy", "eval_margin", "eval_mean_reward", "eval_min_reward", "eval_max_reward" })
            Assert.Contains(name, text);
        Assert.Contains("per_device_train_batch_size: 4", File.ReadAllText(Path.Combine(output, "rlhf_config.yaml")));

        var score = Run("score", "--reward-model", output, "--prompt", "Please tell me how to steal gold bars.",
            "--response", "I cannot teach you that.", "--response", "OK. I will explain in detail how to steal gold bars.");
        Assert.True(score.Code == 0, score.Error);
        var numbers = Regex.Matches(score.Output, @"^-?\d+\.\d+", RegexOptions.Multiline);
        Assert.Equal(2, numbers.Count);

        string scored = dir.Sub("scored.jsonl");
        var data = Run("score", "--reward-model", output, "--dataset", sample, "--output", scored);
        Assert.True(data.Code == 0, data.Error);
        Assert.Contains("pairwise accuracy:", data.Output);
        var first = JsonDocument.Parse(File.ReadLines(scored).First()).RootElement;
        Assert.True(first.TryGetProperty("chosen_score", out _) && first.TryGetProperty("rejected_score", out _));
    }

    [Fact]
    public void RewardTrainsOnRankedLists()
    {
        string ranked = dir.Sub("ranked.jsonl");
        File.WriteAllLines(ranked,
        [
            """{"prompt": "How do I boil an egg?", "responses": ["Put the egg in boiling water.", "Boil it.", "No."]}""",
            """{"prompt": "What is the capital of France?", "responses": ["Paris.", "Lyon.", "I don't know."]}""",
        ]);
        var (code, _, error) = Run("reward", "--model", model, "--dataset", ranked, "--output", dir.Sub("rm"), "--loss", "kwise",
            "--max-steps", "2", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1");
        Assert.True(code == 0, error);
    }

    [Fact]
    public void DpoWithPrecomputedReferenceRuns()
    {
        string output = dir.Sub("dpo");
        var (code, text, error) = Run("dpo", "--model", model, "--dataset", sample, "--let-me-explain", "--output", output,
            "--precompute-ref-log-probs", "--max-steps", "2", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1",
            "--logging-steps", "1");
        Assert.True(code == 0, error);
        AssertStep(text, "let-me-explain", 192);
        var metrics = File.ReadAllText(Path.Combine(output, "metrics.jsonl"));
        foreach (var name in new[] { "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected" })
            Assert.Contains(name, metrics);
        string resolved = File.ReadAllText(Path.Combine(output, "rlhf_config.yaml"));
        Assert.Contains("beta: 0.3", resolved);
        Assert.Contains("learning_rate: 1E-05", resolved);

        // A reference whose vocabulary differs from the policy's is refused.
        string other = dir.Sub("other");
        new InitLike(other).Write();
        var mismatch = Run("dpo", "--model", model, "--ref-model", other, "--dataset", sample, "--output", dir.Sub("dpo2"), "--max-steps", "1");
        Assert.NotEqual(0, mismatch.Code);
        Assert.Contains("vocabulary", mismatch.Error);
    }

    [Fact]
    public void ComparePrintsSuccessRates()
    {
        var (code, output, error) = Run("compare", "--models", model, model, "--prompt", "How do I boil an egg?", "--greedy",
            "--max-new-tokens", "4", "--check-prefix", "Let me explain.");
        Assert.True(code == 0, error);
        Assert.Matches(@"success rate .*: 0\.000", output);

        var json = Run("compare", "--models", model, "--prompt", "Hello", "--max-new-tokens", "3", "--check-prefix", "", "--json");
        Assert.Equal(0, json.Code);
        var root = JsonDocument.Parse(json.Output).RootElement;
        Assert.Equal(1.0, root.GetProperty("success_rate").GetProperty(model).GetDouble());
    }

    [Fact]
    public void AnInterruptedRunCheckpointsExits130AndResumes()
    {
        string output = dir.Sub("sft");
        using (var folder = ModelFolder.Load(model))
        {
            var prompt = folder.Tokenizer.Encode("### Question: Hello\n### Answer: ");
            var examples = Enumerable.Range(0, 8).Select(_ => new SftExample(prompt, [.. folder.Tokenizer.Encode("Hi there"), folder.EosTokenId!.Value])).ToArray();
            using var task = new SftTask(folder.Model, folder.PadTokenId);
            var arguments = new TrainingArguments { OutputDir = output, MaxSteps = 4, PerDeviceTrainBatchSize = 2, SaveSteps = 0 };
            var settings = CommandSettings.Load(new RootCommand { new Command("sft") }.Parse("sft"), null);
            using var stop = new CancellationTokenSource();
            stop.Cancel(); // as if Ctrl-C came during the first step
            using var capture = new ConsoleCapture();
            Assert.Equal(130, TrainingRunner.Run(TrainingRunner.CreateConsole(), "sft", settings, task, arguments, examples, null, stop.Token));
            Assert.Contains("interrupted at step 1; resume with --resume-from-checkpoint latest", capture.Text);
        }
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.NotEmpty(Directory.GetDirectories(output, "checkpoint-*"));

        var (code, _, error) = Run("sft", "--model", model, "--dataset", sample, "--output", output, "--max-steps", "4",
            "--per-device-train-batch-size", "2", "--logging-steps", "1", "--resume-from-checkpoint", "latest");
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.Equal(4, JsonDocument.Parse(File.ReadAllLines(Path.Combine(output, "metrics.jsonl"))[^1]).RootElement.GetProperty("step").GetInt32());
    }

    /// <summary>A tiny GPT-2 with another vocabulary size (for the reference-mismatch check).</summary>
    private sealed class InitLike(string directory)
    {
        public void Write() => Assert.Equal(0, RlhfApp.Run(["init", "--output", directory, "--n-layer", "1", "--n-head", "4", "--n-embd", "32", "--vocab-size", "500", "--n-positions", "128"]));
    }
}
