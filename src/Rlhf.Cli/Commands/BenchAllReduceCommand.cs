// `rlhf bench allreduce` (under mpirun): the cost of data parallelism's one communication per optimizer step, the
// fp32 all-reduce of the gradients (default GPT-2 124M's 124,439,808 floats ≈ 0.5 GB), beside the same sum done in
// memory by one process (the local bound: read two buffers, write one).
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class BenchAllReduceCommand
{
    /// <summary>GPT-2 124M's parameter count (tied embeddings), i.e. its gradient's floats.</summary>
    public const long Gpt2Small = 124_439_808;

    public static Command Create()
    {
        var elements = new Option<long>("--elements") { Description = "Floats in the buffer (default: GPT-2 124M's gradient, 124,439,808 ≈ 0.5 GB).", DefaultValueFactory = _ => Gpt2Small };
        var runs = new Option<int>("--runs") { Description = "Timed all-reduces (after one warm-up); best and median are reported.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var command = new Command("allreduce", "fp32 all-reduce (sum) throughput between the ranks of an mpirun job, e.g. mpirun -np 2 rlhf bench allreduce.")
        {
            elements, runs, json,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var job = DataParallelLaunch.Job;
            if (job.Size < 2) throw new ArgumentException("bench allreduce measures communication between ranks: run it under mpirun with two or more, e.g. mpirun -np 2 rlhf bench allreduce.");
            long count = parse.GetValue(elements);
            int timed = parse.GetValue(runs);
            if (count <= 0 || count > int.MaxValue) throw new ArgumentException($"--elements must lie in 1 … {int.MaxValue} (got {count}).");
            if (timed <= 0) throw new ArgumentException("--runs must be positive.");
            var buffer = new float[count];
            var times = new List<double>();
            for (int run = 0; run <= timed; run++)
            {
                Array.Fill(buffer, job.Rank + 1f);
                job.Barrier();
                var clock = Stopwatch.StartNew();
                job.AllReduceSum(buffer);
                double seconds = clock.Elapsed.TotalSeconds;
                float expected = job.Size * (job.Size + 1) / 2f;
                if (buffer[0] != expected || buffer[^1] != expected)
                    throw new InvalidOperationException($"the all-reduce summed to {buffer[0]}, expected {expected}.");
                if (run > 0) times.Add(seconds);
            }
            // The local bound: the same element count summed in memory by this process (x += y), its share of the cores.
            Rlhf.Tensors.Parallelism.ThreadCount = Rlhf.Distributed.DataParallelEnvironment.DefaultThreads(Environment.GetEnvironmentVariable);
            var other = new float[count];
            Array.Fill(other, 1f);
            var local = new List<double>();
            for (int run = 0; run <= timed; run++)
            {
                var clock = Stopwatch.StartNew();
                Rlhf.Distributed.Collectives.AddInMemory(buffer, other);
                if (run > 0) local.Add(clock.Elapsed.TotalSeconds);
            }
            double bytes = count * 4.0, best = times.Min(), median = Median(times), localBest = local.Min();
            // Bus bandwidth as NCCL's tests define it: a ring all-reduce moves 2(n−1)/n of the buffer over each link.
            double busFactor = 2.0 * (job.Size - 1) / job.Size;
            if (job.Rank != 0) return 0;
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    ranks = job.Size, elements = count, bytes, runs = timed, best_seconds = best, median_seconds = median,
                    algorithm_gb_per_second = bytes / median / 1e9, bus_gb_per_second = bytes * busFactor / median / 1e9,
                    local_sum_seconds = localBest, local_sum_gb_per_second = 3 * bytes / localBest / 1e9,
                }));
                return 0;
            }
            var table = new Table().AddColumns("", "ms (best)", "ms (median)", "GB/s (buffer ÷ time)", "bus GB/s");
            table.AddRow($"MPI_Allreduce, {job.Size} ranks, {bytes / 1e6:N0} MB fp32", $"{best * 1e3:F1}", $"{median * 1e3:F1}",
                $"{bytes / median / 1e9:F2}", $"{bytes * busFactor / median / 1e9:F2}");
            table.AddRow("reference: the same sum in one process's memory", $"{localBest * 1e3:F1}", $"{Median(local) * 1e3:F1}",
                $"{bytes / Median(local) / 1e9:F2}", $"({3 * bytes / localBest / 1e9:F1} GB/s of memory traffic)");
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
