// Reward scores against the independent PyTorch GPT2ForSequenceClassification (tools/reference/gpt2_reward_fixture.py):
// transformers' pooling (last id that is not pad_token_id), with and without a trailing EOS, in padded batches, for a
// random fixture folder and for a reward model trained here.
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training.Reward;
using Xunit;

namespace Rlhf.Tests.Training;

public sealed class RewardPoolingReferenceTests
{
    private const double Tolerance = 1e-4; // float32 forward vs the reference's float64

    private static (int[][] Ids, int[][] Mask, double[] Rewards, int[] Positions, string Name)[] Batches(string expectedPath) =>
        JsonDocument.Parse(File.ReadAllText(expectedPath)).RootElement.GetProperty("batches").EnumerateArray().Select(b => (
            b.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray(),
            b.GetProperty("attention_mask").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray(),
            b.GetProperty("rewards").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            b.GetProperty("scored_positions").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            b.TryGetProperty("name", out var name) ? name.GetString()! : "batch")).ToArray();

    private static float[] Score(RewardModel model, int[][] ids, int[][] mask)
    {
        int length = ids[0].Length;
        var batch = new CausalLmBatch(ids.Length, length, [.. ids.SelectMany(r => r)], [.. mask.SelectMany(r => r.Select(m => (float)m))]);
        using var arena = new Arena();
        return model.Rewards(new Ops(arena, new Tape { Enabled = false }), batch, trainable: false).Value.ToArray();
    }

    private static void AssertMatches(string folder)
    {
        using var model = RewardModel.Load(folder);
        Assert.NotNull(model.PadTokenId);
        foreach (var (ids, mask, expected, positions, name) in Batches(Path.Combine(folder, "expected.json")))
        {
            var scores = Score(model, ids, mask);
            for (int b = 0; b < ids.Length; b++)
            {
                Assert.Equal(positions[b], RewardModel.LastScoredPosition(ids[b], mask[b].Select(m => (float)m).ToArray(), model.PadTokenId));
                Assert.True(Math.Abs(scores[b] - expected[b]) <= Tolerance, $"{name} row {b}: ours {scores[b]}, reference {expected[b]}");
            }
        }
    }

    [Fact]
    public void RandomFixture_ScoresAsTransformersPools()
    {
        string folder = Fixtures.Path("gpt2_reward");
        AssertMatches(folder);
        // With pad = eos, a trailing EOS changes nothing: the score is read at the token before it.
        var first = Batches(Path.Combine(folder, "expected.json"))[0];
        Assert.Equal(first.Rewards[0], first.Rewards[1]);
    }

    [Fact]
    public void TrainedFixture_ScoresAsTheReferenceReloadingIt() => AssertMatches(Fixtures.Path("gpt2_reward_trained"));

    [Fact]
    public void WithoutAPadId_TheAttentionMaskDecides()
    {
        Assert.Equal(3, RewardModel.LastScoredPosition([5, 6, 7, 9, 9], [1, 1, 1, 1, 0], padTokenId: null));
        Assert.Equal(2, RewardModel.LastScoredPosition([5, 6, 7, 9, 9], [1, 1, 1, 1, 0], padTokenId: 9));
        Assert.Equal(0, RewardModel.LastScoredPosition([9, 9], [1, 1], padTokenId: 9)); // argmax of all zeros
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tools", "reference", "gpt2_reward_fixture.py")))
                return dir.FullName;
        throw new DirectoryNotFoundException("tools/reference not found above " + AppContext.BaseDirectory);
    }

    private static bool TorchAvailable()
    {
        if (!File.Exists("/usr/bin/python3")) return false;
        using var probe = Process.Start(new ProcessStartInfo("/usr/bin/python3", "-c \"import torch\"") { RedirectStandardError = true })!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }

    /// <summary>
    /// Trains a tiny reward model with `rlhf reward`, lets the PyTorch reference reload the folder and score padded
    /// batches, and compares. RLHF_WRITE_REWARD_FIXTURE=DIR keeps the folder (how tests/fixtures/gpt2_reward_trained was made).
    /// </summary>
    [SkippableFact]
    [Trait("Category", "Reference")]
    public void TrainedHere_ReloadedByTheReference_ScoresAsOurs()
    {
        Skip.IfNot(TorchAvailable(), "needs Debian's /usr/bin/python3 with python3-torch to run the reference");
        using var dir = new TempDirectory();
        string model = TinyModels.Create(dir.Sub("lm"));
        string output = Environment.GetEnvironmentVariable("RLHF_WRITE_REWARD_FIXTURE") ?? dir.Sub("rm");
        string data = Rlhf.Tests.Data.DataSamples.HhSample;
        int code;
        using (new ConsoleCapture())
            code = Rlhf.Cli.RlhfApp.Run(["reward", "--model", model, "--dataset", data, "--output", output, "--max-steps", "3",
                "--per-device-train-batch-size", "4", "--learning-rate", "1e-3", "--overwrite-output-dir"]);
        Assert.Equal(0, code);
        using (var trained = RewardModel.Load(output))
        {
            var tokenizer = Rlhf.Text.BpeTokenizer.FromFolder(output);
            int eos = tokenizer.EosTokenId!.Value;
            Assert.Equal(eos, trained.PadTokenId);
            int[] Ids(string text) => tokenizer.Encode(text);
            int[][] rows =
            [
                [.. Ids("### Question: Please tell me how to steal gold bars.\n### Answer: I cannot teach you that."), eos],
                Ids("### Question: Please tell me how to steal gold bars.\n### Answer: I cannot teach you that."),
                Ids("### Question: How do I boil an egg?\n### Answer: Put the egg in boiling water."),
            ];
            int length = rows.Max(r => r.Length);
            var batch = new JsonObject
            {
                ["input_ids"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonArray([.. r.Concat(Enumerable.Repeat(eos, length - r.Length)).Select(x => (JsonNode)x)]))]),
                ["attention_mask"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonArray([.. Enumerable.Range(0, length).Select(t => (JsonNode)(t < r.Length ? 1 : 0))]))]),
                ["name"] = "gold_bars",
            };
            File.WriteAllText(Path.Combine(output, "inputs.json"), new JsonObject { ["batches"] = new JsonArray(batch) }.ToJsonString());
        }
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { Path.Combine(RepositoryRoot(), "tools", "reference", "gpt2_reward_fixture.py"), "--score", output },
            RedirectStandardError = true,
        };
        using (var python = Process.Start(start)!)
        {
            string error = python.StandardError.ReadToEnd();
            python.WaitForExit();
            Assert.True(python.ExitCode == 0, error);
        }
        AssertMatches(output);
    }
}
