// `rlhf bench dpo`: one DPO optimizer step (policy forward + backward on chosen and rejected, reference forward, AdamW)
// on a random model of a preset's shape; tokens/s and peak RSS, beside full fine-tuning (fp32, no checkpointing) run in
// its own process by the same command, so each peak RSS is its own.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tensors;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

/// <summary>The <c>rlhf bench dpo</c> command.</summary>
internal static class BenchDpoCommand
{
    /// <summary>Set in the child processes: which configuration the child measures ("measured" or "full").</summary>
    public const string RunVariable = "RLHF_BENCH_DPO_RUN";

    // snake_case keys, as the other benchmarks' JSON.
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var batchSize = new Option<int>("--batch-size") { Description = "Preference pairs per step (2 rows each: chosen and rejected).", DefaultValueFactory = _ => 2 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row (prompt half, response half).", DefaultValueFactory = _ => 512 };
        var steps = new Option<int>("--steps") { Description = "Timed steps (their mean, median and fastest are reported).", DefaultValueFactory = _ => 3 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first.", DefaultValueFactory = _ => 2 };
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Recompute each block in backward (as the trainers' option)." };
        var baseDtype = new Option<string>("--base-dtype") { Description = "Frozen weights in float32 or bfloat16 (packed): with --use-peft the policy's base (and so the reference), else the reference.", DefaultValueFactory = _ => "float32" };
        var threads = new Option<int>("--threads") { Description = "Worker threads (default: one per core).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var noReference = new Option<bool>("--no-reference") { Description = "Skip the full fine-tuning run (fp32, no checkpointing) beside this one." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var shape = new ModelShapeOptions();
        var lora = new LoraCliOptions();
        var command = new Command("dpo", "One DPO step (policy forward + backward on chosen and rejected, reference forward, AdamW) on a random model " +
            "of a preset's shape (default smollm2-360m): tokens/s and peak RSS, beside full fine-tuning.")
        {
            batchSize, seqLen, steps, warmup, checkpointing, baseDtype, threads, noReference, json,
        };
        shape.AddTo(command);
        foreach (Option option in new Option[] { lora.UsePeft, lora.Rank, lora.Alpha, lora.Dropout, lora.TargetModules }) command.Options.Add(option);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var config = shape.Resolve(parse, "smollm2-360m");
            int b = parse.GetValue(batchSize), t = parse.GetValue(seqLen), n = parse.GetValue(steps), w = parse.GetValue(warmup);
            if (b <= 0 || t < 2 || n <= 0 || w < 0) throw new ArgumentException("--batch-size and --steps must be positive, --seq-len at least 2, --warmup not negative.");
            if (t > config.ContextLength) throw new ArgumentException($"--seq-len {t} exceeds the model's context ({config.ContextLength}).");
            var adapters = parse.GetValue(lora.UsePeft)
                ? new LoraOptions(parse.GetValue(lora.Rank), parse.GetValue(lora.Alpha), parse.GetValue(lora.Dropout),
                    parse.GetValue(lora.TargetModules) is { } targets ? LoraOptions.ParseTargets(targets) : null)
                : null;
            adapters?.Validate();
            var measured = new Setup(parse.GetValue(checkpointing), FrozenCopy.ParseDtype(parse.GetValue(baseDtype)!), adapters);
            if (Environment.GetEnvironmentVariable(RunVariable) is { } run)
            {
                Parallelism.ThreadCount = parse.GetValue(threads);
                var setup = run == "full" ? Setup.FullFineTuning : measured;
                Console.WriteLine(JsonSerializer.Serialize(Measure(config, setup, b, t, n, w), JsonOptions));
                return 0;
            }

            bool quiet = parse.GetValue(json);
            var ours = RunChild("measured", quiet, measured.Describe());
            var full = parse.GetValue(noReference) || measured == Setup.FullFineTuning ? null : RunChild("full", quiet, Setup.FullFineTuning.Describe());
            Report(config, b, t, ours, full, quiet);
            return 0;
        }));
        return command;
    }

    /// <summary>What is being measured: full fine-tuning is (false, Float32).</summary>
    private sealed record Setup(bool GradientCheckpointing, WeightPrecision FrozenPrecision, LoraOptions? Lora = null)
    {
        public static readonly Setup FullFineTuning = new(false, WeightPrecision.Float32);

        public string Describe() => string.Join(", ", new[]
        {
            Lora is null ? "full fine-tuning" : $"LoRA r={Lora.Rank} on {string.Join(",", Lora.TargetModules ?? LoraOptions.DefaultTargets)} (reference: adapters off)",
            (FrozenPrecision == WeightPrecision.BFloat16 ? "bf16 " : "fp32 ") + (Lora is null ? "reference" : "base"),
            GradientCheckpointing ? "gradient checkpointing" : null,
        }.Where(s => s is not null));
    }

    // StepMs: every timed step; FastestMsPerStep: the least of them (contention on a shared machine only ever adds time,
    // so the fastest step is the steadiest estimate of a configuration's own cost).
    private sealed record Result(string Setup, long Parameters, int Pairs, int SeqLen, double MsPerStep, double MedianMsPerStep,
        double TokensPerSecond, double MedianTokensPerSecond, double? PeakRssMiB, double FirstLoss, double LastLoss,
        double PeakArenaMiB = 0, double GcHeapMiB = 0, double FastestMsPerStep = 0, double[]? StepMs = null);

    /// <summary>Warm-up then timed DPO steps on random pairs (prompt = first half of each row); tokens = policy tokens (2·B·T).</summary>
    private static Result Measure(CausalLmConfig config, Setup setup, int pairs, int tokens, int steps, int warmup)
    {
        using var policy = CausalLmRegistry.CreateRandom(config, seed: 1);
        policy.GradientCheckpointing = setup.GradientCheckpointing;
        ICausalLm reference;
        InferenceWeights? referenceWeights = null;
        if (setup.Lora is { } lora)
        {
            reference = LoraAdapters.Attach(policy, lora).BaseModel; // TRL with PEFT: no second copy
            FrozenBase.Enable(policy, setup.FrozenPrecision);
        }
        else if (setup.FrozenPrecision == WeightPrecision.Float32)
        {
            reference = CausalLmRegistry.Create(config);
            policy.Parameters.Values.CopyTo(reference.Parameters.Values);
        }
        else (reference, referenceWeights) = FrozenCopy.Create(policy, setup.FrozenPrecision);
        using var task = new DpoTask(policy, reference, new DpoConfig(), config.EosTokenId ?? 0) { ReferenceWeights = referenceWeights };
        using var optimizer = new AdamW(policy.Parameters, new AdamWOptions(WeightDecay: 0.01f));
        var rng = new Rng(2);
        int[] Random(int count) => Enumerable.Range(0, count).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        int prompt = tokens / 2;
        var batch = Enumerable.Range(0, pairs).Select(_ => new DpoExample(Random(prompt), Random(tokens - prompt), Random(tokens - prompt))).ToArray();
        var times = new List<double>();
        double first = 0, last = 0;
        for (int s = 0; s < warmup + steps; s++)
        {
            var clock = Stopwatch.StartNew();
            var metrics = task.TrainStep([batch]);
            double norm = GradientClipping.GlobalNorm(policy.Parameters);
            optimizer.Step(1e-6f, GradientClipping.ClipCoefficient(norm, 1.0), zeroGradients: true);
            clock.Stop();
            if (s == 0) first = metrics["loss"];
            last = metrics["loss"];
            if (s >= warmup) times.Add(clock.Elapsed.TotalMilliseconds);
        }
        double mean = times.Average();
        var sorted = times.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        double perStep = 2.0 * pairs * tokens;
        return new Result(setup.Describe(), policy.Parameters.ParameterCount, pairs, tokens, mean, median, perStep / (mean / 1000),
            perStep / (median / 1000), ProcessMemory.PeakResidentMiB(), first, last,
            task.PeakArenaFloats * 4.0 / (1 << 20), GC.GetGCMemoryInfo().HeapSizeBytes / (double)(1 << 20), sorted[0], times.ToArray());
    }

    /// <summary>Runs this command again in a child process measuring <paramref name="run"/>; returns its result.</summary>
    private static Result RunChild(string run, bool quiet, string description)
    {
        if (!quiet) AnsiConsole.MarkupLine($"[grey]Measuring {Markup.Escape(description)} in its own process …[/]");
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        var args = Environment.GetCommandLineArgs();
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(args[0]);
        foreach (var arg in args.Skip(1)) start.ArgumentList.Add(arg);
        start.Environment[RunVariable] = run;
        start.Environment.Remove("OPENBLAS_CORETYPE"); // as every bench: OpenBLAS at its best on AVX-512 cores
        start.Environment["RLHF_BENCH_CHILD"] = "1";
        using var child = Process.Start(start)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"The {description} run failed (exit code {child.ExitCode}).");
        string line = output.Split('\n').Last(l => l.StartsWith('{'));
        return JsonSerializer.Deserialize<Result>(line, JsonOptions)!;
    }

    private static void Report(CausalLmConfig config, int pairs, int tokens, Result ours, Result? full, bool json)
    {
        double? speed = full is null ? null : ours.TokensPerSecond / full.TokensPerSecond;
        double? fastest = full is { FastestMsPerStep: > 0 } && ours.FastestMsPerStep > 0 ? full.FastestMsPerStep / ours.FastestMsPerStep : null;
        double? memory = full?.PeakRssMiB is > 0 && ours.PeakRssMiB is double rss ? rss / full.PeakRssMiB : null;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["model_type"] = config.ModelType, ["rlhf"] = ours, ["full_fine_tuning"] = full,
                ["tokens_per_s_ratio"] = speed, ["fastest_step_ratio"] = fastest, ["peak_rss_ratio"] = memory,
            }, JsonOptions));
            return;
        }
        var table = new Table().AddColumns("", "ms/step", "tokens/s", "median step ms", "median tokens/s", "peak RSS (MiB)", "arena peak (MiB)", "loss");
        foreach (var result in full is null ? [ours] : new[] { ours, full })
            table.AddRow(Markup.Escape(result.Setup), $"{result.MsPerStep:F0}", $"{result.TokensPerSecond:F1}", $"{result.MedianMsPerStep:F0}",
                $"{result.MedianTokensPerSecond:F1}", result.PeakRssMiB is double r ? $"{r:F0}" : "?", $"{result.PeakArenaMiB:F0}",
                string.Create(CultureInfo.InvariantCulture, $"{result.FirstLoss:F4} → {result.LastLoss:F4}"));
        AnsiConsole.MarkupLine($"DPO step, {config.ModelType} with {ours.Parameters:N0} parameters, {pairs} pairs × {tokens} tokens (policy on chosen + rejected, reference forward, AdamW)");
        AnsiConsole.Write(table);
        if (speed is double x)
            AnsiConsole.MarkupLine($"vs full fine-tuning: tokens/s [bold]{x:F2}×[/]{(fastest is double f ? $" (fastest steps {f:F2}×)" : "")}" +
                $"{(memory is double m ? $", peak RSS [bold]{m:P0}[/]" : "")}");
    }
}
