// `mpirun -np 2 rlhf sft|dpo …` against one process with gradient accumulation 2 and the same seed (the same global
// batch): the weights agree within 1e-5 (fp32 sums in another order). Plus the failures: a killed rank, ranks that
// loaded different data, and an mpirun without the MPI library.
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Distributed;

public class MpiTrainingTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly TempDirectory dir = new();
    private readonly string model;
    private readonly string sample = DataSamples.HhSample;

    public MpiTrainingTests() => model = TinyModels.Create(dir.Sub("model"), context: 128);

    public void Dispose() => dir.Dispose();

    private string[] Sft(string output, int accumulation, params string[] extra) =>
        ["sft", "--model", model, "--dataset", sample, "--output", output, "--max-steps", "3", "--per-device-train-batch-size", "2",
         "--gradient-accumulation-steps", $"{accumulation}", "--learning-rate", "1e-3", "--logging-steps", "1", "--seed", "7",
         "--save-steps", "0", "--threads", "1", .. extra];

    [SkippableFact]
    public void SftOnTwoRanksMatchesOneProcessWithAccumulationTwo()
    {
        MpiJob.RequireMpi();
        var single = MpiJob.Alone(Sft(dir.Sub("single"), 2));
        Assert.True(single.Code == 0, single.Error);
        var parallel = MpiJob.Ranks(2, Sft(dir.Sub("parallel"), 1));
        Assert.True(parallel.Code == 0, parallel.Output + parallel.Error);
        MpiJob.AssertSameTraining(model, dir.Sub("single"), dir.Sub("parallel"), Tolerance);
        // Rank 0 alone logged: three steps, once each, with the same losses.
        var a = File.ReadAllLines(Path.Combine(dir.Sub("single"), "metrics.jsonl"));
        var b = File.ReadAllLines(Path.Combine(dir.Sub("parallel"), "metrics.jsonl"));
        Assert.Equal(3, b.Length);
        for (int i = 0; i < 3; i++) Assert.Equal(Loss(a[i]), Loss(b[i]), 1e-5);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(parallel.Output, "Saved the model"));
    }

    private static double Loss(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("loss").GetDouble();

    // With --precompute-ref-log-probs each rank computes a share of the reference's log-probs and one all-reduce
    // gives every rank all of them (a rank missing the others' would train on zeros there and drift from one process).
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void DpoOnTwoRanksMatchesOneProcessWithAccumulationTwo(bool precompute)
    {
        MpiJob.RequireMpi();
        string[] Dpo(string output, int accumulation) =>
            ["dpo", "--model", model, "--dataset", sample, "--let-me-explain", "--output", output, "--max-steps", "2",
             "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", $"{accumulation}", "--learning-rate", "1e-3",
             "--seed", "3", "--save-steps", "0", "--threads", "1", .. (precompute ? new[] { "--precompute-ref-log-probs", "--per-device-eval-batch-size", "4" } : [])];
        var single = MpiJob.Alone(Dpo(dir.Sub("single"), 2));
        Assert.True(single.Code == 0, single.Error);
        var parallel = MpiJob.Ranks(2, Dpo(dir.Sub("parallel"), 1));
        Assert.True(parallel.Code == 0, parallel.Output + parallel.Error);
        MpiJob.AssertSameTraining(model, dir.Sub("single"), dir.Sub("parallel"), Tolerance);
    }

    [SkippableFact]
    public void PpoOnTwoRanksIsDeterministicRunToRun()
    {
        MpiJob.RequireMpi();
        string rewardModel = TinyModels.CreateRewardModel(dir.Sub("rm"), model);
        string prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 12).Select(i => $"{{\"prompt\": \"What is the capital of France? {i}\"}}"));
        string[] Ppo(string output) =>
            ["ppo", "--model", model, "--reward-model", rewardModel, "--dataset", prompts, "--output", output, "--max-steps", "2",
             "--per-device-train-batch-size", "2", "--mini-batch-size", "2", "--gradient-accumulation-steps", "2", "--num-ppo-epochs", "2",
             "--max-new-tokens", "4", "--learning-rate", "1e-3", "--seed", "5", "--save-steps", "0", "--logging-steps", "1", "--threads", "1"];
        var first = MpiJob.Ranks(2, Ppo(dir.Sub("first")));
        Assert.True(first.Code == 0, first.Output + first.Error);
        var second = MpiJob.Ranks(2, Ppo(dir.Sub("second")));
        Assert.True(second.Code == 0, second.Output + second.Error);
        Assert.True(MpiJob.MaxDifference(model, dir.Sub("first")) > 1e-4, "PPO did not move the weights");
        Assert.Equal(0, MpiJob.MaxDifference(dir.Sub("first"), dir.Sub("second")));
        // The rollout batch: 2 prompts per device × 2 ranks = 4 per step, counted once (PPO's accumulation is over its
        // minibatches: each rank trains one of every group of 2).
        var last = System.Text.Json.JsonDocument.Parse(File.ReadAllLines(Path.Combine(dir.Sub("first"), "metrics.jsonl"))[^1]).RootElement;
        Assert.Equal(8, last.GetProperty("episode").GetDouble());
    }

    // GRPO and RLOO (β > 0: the KL-shaped rewards need every rank's reference log-probs; μ = 2: old log-probs):
    // each rank samples and scores its share of the prompts, every rank sees the whole generation batch, the run
    // repeats exactly, and step 1's logged reward is the mean over both ranks' 8 completions (the reward command
    // writes each score it gives to a file as well).
    [SkippableTheory]
    [InlineData("grpo")]
    [InlineData("rloo")]
    public void GrpoOnTwoRanksIsDeterministicRunToRunAndSeesTheWholeBatch(string verb)
    {
        MpiJob.RequireMpi();
        string prompts = dir.Sub("math.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"What is {i} + 1?\", \"answer\": \"{i + 1}\"}}"));
        string[] Grpo(string output, string scores) =>
            [verb, "--model", model, "--dataset", prompts, "--output", output, "--max-steps", "2", "--num-generations", "2",
             "--per-device-train-batch-size", "4", "--max-completion-length", "4", "--learning-rate", "1e-3", "--beta", "0.05",
             "--num-iterations", "2", "--reward-command", $"while read -r line; do echo ${{#line}} >> '{scores}'; echo ${{#line}}; done",
             "--seed", "5", "--save-steps", "0", "--logging-steps", "1", "--threads", "1"];
        string scores = dir.Sub("scores.txt");
        var first = MpiJob.Ranks(2, Grpo(dir.Sub("first"), scores));
        Assert.True(first.Code == 0, first.Output + first.Error);
        var second = MpiJob.Ranks(2, Grpo(dir.Sub("second"), dir.Sub("scores-second.txt")));
        Assert.True(second.Code == 0, second.Output + second.Error);
        Assert.True(MpiJob.MaxDifference(model, dir.Sub("first")) > 1e-4, $"{verb} did not move the weights");
        Assert.Equal(0, MpiJob.MaxDifference(dir.Sub("first"), dir.Sub("second")));

        var lines = File.ReadAllLines(Path.Combine(dir.Sub("first"), "metrics.jsonl"));
        Assert.Equal(2, lines.Length);
        var given = File.ReadAllLines(scores).Select(double.Parse).ToArray();
        Assert.Equal(16, given.Length); // 2 steps × 2 ranks × 2 prompts × 2 completions
        var step = System.Text.Json.JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(given.Take(8).Average(), step.GetProperty("rewards/command/mean").GetDouble(), 1e-9);
        Assert.True(double.IsFinite(step.GetProperty("loss").GetDouble()), lines[0]);
    }

    [SkippableFact]
    public void AKilledRankEndsTheJobNonZeroAndTheLastCheckpointResumesOnOneProcess()
    {
        MpiJob.RequireMpi();
        string output = dir.Sub("killed");
        string[] args = Sft(output, 1);
        args[Array.IndexOf(args, "--max-steps") + 1] = "100000";
        args[Array.IndexOf(args, "--save-steps") + 1] = "1";
        var start = MpiJob.Start(MpiJob.MpiRun, [.. MpiJob.Launcher(2), MpiJob.Cli, .. args]);
        var (code, _, error) = MpiJob.Run(start, mpirun =>
        {
            var deadline = DateTime.UtcNow + MpiJob.Limit;
            while (!Directory.Exists(Path.Combine(output, "checkpoint-3")) && DateTime.UtcNow < deadline && !mpirun.HasExited) Thread.Sleep(50);
            MpiJob.KillRank(mpirun.Id, rank: 1);
        });
        Assert.True(code != 0, "the job went on after a rank was killed: " + error);
        var checkpoints = Directory.GetDirectories(output, "checkpoint-*").Order().ToArray();
        Assert.NotEmpty(checkpoints);
        // The newest checkpoint is whole: one process (any number of ranks may resume) continues from it one step.
        int newest = checkpoints.Max(c => int.Parse(Path.GetFileName(c)["checkpoint-".Length..]));
        string[] resume = [.. Sft(output, 2), "--resume-from-checkpoint", "latest"];
        resume[Array.IndexOf(resume, "--max-steps") + 1] = $"{newest + 1}";
        var resumed = MpiJob.Alone(resume);
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
    }

    [SkippableFact]
    public void RanksThatLoadedDifferentDataAreRefusedBeforeAnythingIsWritten()
    {
        MpiJob.RequireMpi();
        string other = dir.Sub("other.jsonl");
        File.WriteAllLines(other, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\": \"question {i}\", \"response\": \"answer {i}\"}}"));
        string output = dir.Sub("out");
        string[] rank0 = Sft(output, 1), rank1 = Sft(output, 1);
        rank1[Array.IndexOf(rank1, "--dataset") + 1] = other;
        // MPMD launch: one rank with each command line.
        var start = MpiJob.Start(MpiJob.MpiRun, ["--oversubscribe", "--bind-to", "none", "-np", "1", MpiJob.Cli, .. rank0, ":", "-np", "1", MpiJob.Cli, .. rank1]);
        var (code, text, error) = MpiJob.Run(start);
        Assert.NotEqual(0, code);
        Assert.True(error.Contains("rank 1 (data, options) differ from rank 0"), error + text);
        Assert.False(Directory.Exists(output), "a refused job wrote its output folder");
    }

    [SkippableFact]
    public void UnderALauncherWithoutTheMpiLibraryTheErrorSaysWhatToInstall()
    {
        MpiJob.RequireMpi();
        var start = MpiJob.Start(MpiJob.Cli, Sft(dir.Sub("out"), 1));
        start.Environment["OMPI_COMM_WORLD_SIZE"] = "2";
        start.Environment["RLHF_MPI_LIBRARY"] = dir.Sub("no-such-libmpi.so");
        var (code, _, error) = MpiJob.Run(start);
        Assert.Equal(1, code);
        Assert.Contains("apt-get install openmpi-bin libopenmpi-dev", error);
        Assert.False(Directory.Exists(dir.Sub("out")));
    }
}
