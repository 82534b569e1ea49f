// Launches the built `rlhf` (Rlhf.Cli next to the tests) as a child process, alone or under Open MPI's mpirun.
using System.Diagnostics;
using Rlhf.Models;
using Xunit;

namespace Rlhf.Tests.Distributed;

internal static class MpiJob
{
    public const string MpiRun = "/usr/bin/mpirun";
    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    public static string Cli => Path.Combine(AppContext.BaseDirectory, "Rlhf.Cli");

    /// <summary>Skips where Open MPI is not installed; in CI (which installs it, .ci/run) that fails instead.</summary>
    public static void RequireMpi()
    {
        if (File.Exists(MpiRun)) return;
        const string reason = "needs Open MPI's mpirun (apt-get install openmpi-bin libopenmpi-dev)";
        Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "The MPI tests cannot run in CI: it " + reason + ".");
        Skip.If(true, reason);
    }

    /// <summary>mpirun's own options: two ranks may share two cores, no core binding, root allowed (CI runs as root).</summary>
    public static string[] Launcher(int ranks) => ["--oversubscribe", "--bind-to", "none", "-np", $"{ranks}"];

    public static ProcessStartInfo Start(string program, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"; // containers often forbid CMA
        start.Environment["NO_COLOR"] = "1";
        foreach (var name in new[] { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE" }) start.Environment.Remove(name);
        return start;
    }

    /// <summary>Runs to the end (killed past <see cref="Limit"/>); exit code and both streams.</summary>
    public static (int Code, string Output, string Error) Run(ProcessStartInfo start, Action<Process>? whileRunning = null)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        whileRunning?.Invoke(process);
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, output.Result, "timed out\n" + error.Result);
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    public static (int Code, string Output, string Error) Ranks(int ranks, params string[] args) =>
        Run(Start(MpiRun, [.. Launcher(ranks), Cli, .. args]));

    public static (int Code, string Output, string Error) Alone(params string[] args) => Run(Start(Cli, args));

    /// <summary>Kills (SIGKILL) the rank of an mpirun job with OMPI_COMM_WORLD_RANK = <paramref name="rank"/> among its descendants.</summary>
    public static void KillRank(int mpirun, int rank)
    {
        foreach (var entry in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid) || !DescendsFrom(pid, mpirun)) continue;
            string environment;
            try { environment = File.ReadAllText(Path.Combine(entry, "environ")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (environment.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}"))
            {
                Process.GetProcessById(pid).Kill();
                return;
            }
        }
        Assert.Fail($"no rank {rank} under mpirun {mpirun}");
    }

    private static bool DescendsFrom(int pid, int ancestor)
    {
        for (int depth = 0; depth < 8 && pid > 1; depth++)
        {
            string stat;
            try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
            catch (IOException) { return false; }
            pid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]); // the field after the state: the parent
            if (pid == ancestor) return true;
        }
        return false;
    }

    /// <summary>The largest |a − b| over every tensor of two model folders' weights (same names and shapes).</summary>
    public static double MaxDifference(string folderA, string folderB)
    {
        using var a = SafeTensors.Open(Path.Combine(folderA, "model.safetensors"));
        using var b = SafeTensors.Open(Path.Combine(folderB, "model.safetensors"));
        Assert.Equal(a.Tensors.Keys.Order(), b.Tensors.Keys.Order());
        double worst = 0;
        foreach (var (name, info) in a.Tensors)
        {
            var x = new float[info.ElementCount];
            var y = new float[info.ElementCount];
            a.ReadInto(name, x);
            b.ReadInto(name, y);
            for (int i = 0; i < x.Length; i++) worst = Math.Max(worst, Math.Abs((double)x[i] - y[i]));
        }
        return worst;
    }

    /// <summary>Largest |a − b| over the weights of two folders, and that training moved them at all (from <paramref name="initial"/>).</summary>
    public static void AssertSameTraining(string initial, string single, string parallel, double tolerance)
    {
        Assert.True(MaxDifference(initial, single) > 100 * tolerance, "training did not move the weights: the comparison would prove nothing");
        double difference = MaxDifference(single, parallel);
        Assert.True(difference <= tolerance, $"the 2-rank weights differ from the single-process run by {difference:G3} (tolerance {tolerance:G3})");
    }
}
