// `rlhf bench train`: one training step of a causal LM of any family (forward + backward + AdamW, fp32) beside the
// PyTorch reference on the same shape and setup (full fine-tuning or LoRA, with or without gradient checkpointing), the
// GEMM throughput of this machine measured in the same command, and (with --breakdown) the time of every op kind in the step.
using System.Globalization;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Models.Llama;
using Rlhf.Models.Lora;
using Rlhf.Tensors;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class BenchTrainCommand
{
    public static Command Create()
    {
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per step.", DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence.", DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "Timed steps (their mean and median are reported).", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first (the first two touch fresh memory: the step arena is sized by step 1 and first used whole by step 2).", DefaultValueFactory = _ => 2 };
        var breakdown = new Option<bool>("--breakdown") { Description = "Also time every op kind (forward and backward) over the timed steps, and the model's GEMM shapes alone." };
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Recompute each block in backward (as the trainers' option); the PyTorch reference likewise (torch.utils.checkpoint per block)." };
        var baseDtype = new Option<string>("--base-dtype") { Description = "With --use-peft: the frozen base's linear layers in float32 or bfloat16.", DefaultValueFactory = _ => "float32" };
        var shape = new ModelShapeOptions();
        var lora = new LoraCliOptions();
        var command = new Command("train", "One training step of a causal LM (forward + backward + AdamW, fp32; default GPT-2 124M; --preset smollm2-135m etc.): ms/step, tokens/s, GFLOP/s and its share of this machine's GEMM throughput, peak memory, beside PyTorch.")
        {
            batchSize, seqLen, steps, warmup, breakdown, checkpointing, baseDtype, BenchCommand.GemmProvider, BenchCommand.Threads, BenchCommand.NoReference, BenchCommand.Json,
        };
        shape.AddTo(command);
        lora.AddTrainingTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            if (BenchCommand.RerunWithoutCoreTypeOverride() is int code) return code;
            BenchCommand.Configure(parse);
            var config = shape.Resolve(parse, "gpt2");
            int b = parse.GetValue(batchSize), t = parse.GetValue(seqLen), n = parse.GetValue(steps), w = parse.GetValue(warmup);
            if (b <= 0 || t <= 0 || n <= 0 || w < 0) throw new ArgumentException("--batch-size, --seq-len and --steps must be positive, --warmup not negative.");
            if (t > config.ContextLength) throw new ArgumentException($"--seq-len {t} exceeds the model's context ({config.ContextLength}).");
            bool json = parse.GetValue(BenchCommand.Json);
            var setup = new TrainSetup(lora.Resolve(CommandSettings.Load(parse, null), $"random {config.ModelType}", seed: 3),
                parse.GetValue(checkpointing), FrozenCopy.ParseDtype(parse.GetValue(baseDtype)!));
            setup.Validate();

            // The machine's GEMM throughput first (small buffers), as `rlhf bench gemm` measures it: 1024³, best of 3.
            var square = GemmBenchmark.Run([GemmBenchmark.DefaultShapes[0]], [Gemm.Provider], runs: 3)[0];
            // One thread: the breakdown counts the thread's CPU time, which other processes on a shared machine do not inflate.
            var profile = !parse.GetValue(breakdown) ? null : Parallelism.ThreadCount == 1 && ThreadCpuMilliseconds() is not null
                ? new TapeProfile(() => ThreadCpuMilliseconds()!.Value) : new TapeProfile();
            var ours = Run(config, setup, b, t, n, w, json, profile);
            var gemmShapes = profile is null ? null : ModelGemms(config, b * t, frozenBase: setup.Lora is not null);
            string? failure = "skipped (--no-reference)";
            var reference = parse.GetValue(BenchCommand.NoReference) ? null : RunReference(config, ours, b, t, n, w, json, out failure);
            Report(config, ours, square, reference, failure, json, profile, gemmShapes);
            return 0;
        }));
        return command;
    }

    /// <summary>The calling thread's time on a CPU (Linux schedstat, nanosecond resolution), or null where it is not available.</summary>
    private static double? ThreadCpuMilliseconds()
    {
        const string path = "/proc/thread-self/schedstat";
        try
        {
            string text = File.ReadAllText(path);
            return long.Parse(text.AsSpan(0, text.IndexOf(' ')), System.Globalization.CultureInfo.InvariantCulture) / 1e6;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What the step trains: every weight (Lora null) or LoRA adapters on a frozen base; checkpointing; the base's storage.</summary>
    internal sealed record TrainSetup(LoraOptions? Lora, bool GradientCheckpointing, WeightPrecision BaseDtype)
    {
        public void Validate()
        {
            if (BaseDtype == WeightPrecision.Float32) return;
            if (Lora is null) throw new ArgumentException("--base-dtype bfloat16 needs --use-peft (only frozen weights are stored in bfloat16; full fine-tuning trains them all in float32).");
        }

        public string Describe(IReadOnlyList<string>? modules) => string.Join(", ", new[]
        {
            Lora is null ? "full fine-tuning" : $"LoRA r={Lora.Rank} α={Lora.Alpha:G4} dropout {Lora.Dropout:G3} on {string.Join(",", modules ?? Lora.TargetModules ?? LoraOptions.DefaultTargets)}",
            Lora is null ? null : BaseDtype == WeightPrecision.BFloat16 ? "bf16 base" : "fp32 base",
            GradientCheckpointing ? "gradient checkpointing" : null,
        }.Where(s => s is not null));
    }

    internal sealed record TrainResult(string ModelType, string Provider, int Threads, long Parameters, int BatchSize, int SeqLen, double MsPerStep,
        double TokensPerSecond, double GflopsPerSecond, double? PeakRssMiB, double FirstLoss, double LastLoss, double MedianMsPerStep,
        double MedianTokensPerSecond, double FlopsPerToken, double UpdateMsPerStep, int Steps, double ProfiledStepMs, double ProfiledUpdateMs,
        string Setup, long TrainableParameters, [property: JsonIgnore] TrainSetup Options, IReadOnlyList<string>? LoraTargetModules);

    private static TrainResult Run(CausalLmConfig config, TrainSetup setup, int batch, int tokens, int steps, int warmup, bool quiet, TapeProfile? profile)
    {
        using var model = CausalLmRegistry.CreateRandom(config, seed: 1);
        model.GradientCheckpointing = setup.GradientCheckpointing;
        var adapters = setup.Lora is { } lora ? LoraAdapters.Attach(model, lora) : null; // freezes the base: no gradient buffer, no AdamW state
        if (adapters is not null) FrozenBase.Enable(model, setup.BaseDtype); // bf16: the frozen linears as packed panels, fp32 pages given back
        using var step = new LanguageModelStep(model, new AdamWOptions(WeightDecay: 0.01f));
        var rng = new Rng(2);
        var ids = new int[batch * tokens];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.NextInt(config.VocabSize);
        var data = new CausalLmBatch(batch, tokens, ids);
        double firstLoss = 0, lastLoss = 0, update = 0, profiledStep = 0, profiledUpdate = 0;
        var times = new List<double>();
        for (int s = 0; s < warmup + steps; s++)
        {
            bool timed = s >= warmup;
            step.Profile = timed ? profile : null;
            profile?.Restart();
            double profileStart = profile?.Now() ?? 0;
            var clock = Stopwatch.StartNew();
            float loss = step.Accumulate(data);
            double accumulate = clock.Elapsed.TotalMilliseconds, profileAccumulate = profile?.Now() ?? 0;
            step.Update(1e-4f, maxGradNorm: 1.0);
            clock.Stop();
            if (timed && profile is not null)
            {
                double end = profile.Now();
                profiledStep += end - profileStart;
                profiledUpdate += end - profileAccumulate;
            }
            if (s == 0) firstLoss = loss;
            lastLoss = loss;
            if (timed)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
                update += clock.Elapsed.TotalMilliseconds - accumulate;
            }
            if (!quiet) AnsiConsole.MarkupLine($"[grey]step {s + 1}/{warmup + steps}{(s < warmup ? " (warm-up)" : "")}: loss {loss:F4}, {clock.Elapsed.TotalMilliseconds:F0} ms[/]");
        }
        double ms = times.Average();
        double tokensPerSecond = batch * tokens / (ms / 1000);
        var sorted = times.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        double flops = TrainingFlopsPerToken(model, tokens);
        return new TrainResult(config.ModelType, Gemm.Provider.Name, Parallelism.ThreadCount, model.Parameters.ParameterCount, batch, tokens, ms,
            tokensPerSecond, flops * tokensPerSecond / 1e9, ProcessMemory.PeakResidentMiB(), firstLoss, lastLoss,
            median, batch * tokens / (median / 1000), flops, update / steps, steps, profiledStep / steps, profiledUpdate / steps,
            setup.Describe(adapters?.Options.TargetModules), model.Parameters.TrainableParameterCount, setup, adapters?.Options.TargetModules);
    }

    /// <summary>
    /// Matmul FLOPs of one training token. A trained weight W costs 3 × its forward's 2·|W| (the backward's dX and dW
    /// GEMMs are one forward each); a frozen one (under LoRA) 2 × (no weight gradient). The weights: the linear layers'
    /// (GPT-2: 12·L·C², the Llama family: L·(2·C·H·D + 2·C·KV·D + 3·C·I)) and the LM head's C·V; the attention adds
    /// 3 × 4·L·T·(H·D) (QKᵀ and PV over the full T, as PaLM's MFU counts them; the kernels skip the causal upper half);
    /// each LoRA adapter 3 × 2·r·(in + out) (A then B). Recomputation under gradient checkpointing is not counted (MFU).
    /// </summary>
    public static double TrainingFlopsPerToken(ICausalLm model, int tokens)
    {
        double Passes(string name) => model.Parameters[name].Frozen ? 2 : 3;
        double linear = model.LinearWeights.Sum(w => Passes(w.Name) * 2 * model.Parameters[w.Name].Value.Length);
        double c = model.Config.HiddenSize, l = model.Config.LayerCount, attention = model.Config switch
        {
            LlamaConfig llama => llama.HeadCount * llama.HeadDim,
            _ => c,
        };
        double adapters = model.Adapters is { } lora ? lora.Targets.Sum(t => 3 * 2.0 * lora.Options.Rank * (t.In + t.Out)) : 0;
        return linear + 3 * 4 * l * tokens * attention + Passes(model.LmHeadWeightName) * 2 * c * model.Config.VocabSize + adapters;
    }

    /// <summary>The PyTorch reference on the same shape: GPT-2 by its sizes, the Llama family through a config.json.</summary>
    private static JsonElement? RunReference(CausalLmConfig config, TrainResult ours, int batch, int tokens, int steps, int warmup, bool quiet, out string? failure)
    {
        string? script = ReferenceScripts.Find("bench/pytorch_train.py");
        if (script is null)
        {
            failure = "bench/pytorch_train.py not found";
            return null;
        }
        List<string> common = ["--batch-size", $"{batch}", "--seq-len", $"{tokens}", "--steps", $"{steps}", "--warmup", $"{warmup}", "--threads", $"{Parallelism.ThreadCount}"];
        // The same setup: LoRA on the modules our side adapted (resolved names), checkpointing per block.
        if (ours.Options.Lora is { } lora)
            common.AddRange(["--lora-r", $"{lora.Rank}", "--lora-alpha", lora.Alpha.ToString("R", CultureInfo.InvariantCulture),
                "--lora-dropout", lora.Dropout.ToString("R", CultureInfo.InvariantCulture), "--lora-target-modules", string.Join(",", ours.LoraTargetModules!)]);
        if (ours.Options.GradientCheckpointing) common.Add("--gradient-checkpointing");
        if (ours.Options.BaseDtype == WeightPrecision.BFloat16) common.AddRange(["--base-dtype", "bfloat16"]);
        if (!quiet) AnsiConsole.MarkupLine("[grey]Running the PyTorch reference (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, OMP_WAIT_POLICY=PASSIVE)…[/]");
        switch (config)
        {
            case Gpt2Config gpt2:
                return ReferenceScripts.Run(script,
                [
                    "--n-layer", $"{gpt2.LayerCount}", "--n-head", $"{gpt2.HeadCount}", "--n-embd", $"{gpt2.EmbeddingSize}",
                    "--vocab-size", $"{gpt2.VocabSize}", "--n-positions", $"{gpt2.ContextLength}", .. common,
                ], out failure);
            case LlamaConfig:
                string directory = Path.Combine(Path.GetTempPath(), $"rlhf-bench-{Environment.ProcessId}");
                Directory.CreateDirectory(directory);
                try
                {
                    string path = Path.Combine(directory, ICausalLm.ConfigFileName);
                    config.Save(path);
                    return ReferenceScripts.Run(script, ["--hf-config", path, .. common], out failure);
                }
                finally
                {
                    Directory.Delete(directory, recursive: true);
                }
            default:
                failure = $"bench/pytorch_train.py has no reference for {config.ModelType}";
                return null;
        }
    }

    /// <summary>
    /// The GEMMs of one training step of the linear layers (per distinct weight shape: forward, dX and dW, no dW for a
    /// frozen base, with the transposes the kernels use) timed alone, best of 3: what the step's products reach outside the step.
    /// </summary>
    private static IReadOnlyList<(GemmBenchmarkResult Result, int Count)> ModelGemms(CausalLmConfig config, int rows, bool frozenBase)
    {
        using var model = CausalLmRegistry.Create(config);
        var shapes = new List<(GemmShape Shape, int Count)>();
        foreach (var group in model.LinearWeights.GroupBy(w => (string.Join("×", model.Parameters[w.Name].Value.Shape), w.Layout)))
        {
            var dims = model.Parameters[group.First().Name].Value.Shape;
            string name = string.Join("/", group.Select(w => w.Name.Split('.')[^2]).Distinct());
            int count = group.Count();
            if (group.Key.Layout == MatrixLayout.OutputMajor)
            {
                int output = dims[0], input = dims[1];
                shapes.Add((new GemmShape($"{name} fwd", false, true, rows, output, input), count));
                shapes.Add((new GemmShape($"{name} dX", false, false, rows, input, output), count));
                if (!frozenBase) shapes.Add((new GemmShape($"{name} dW", true, false, output, input, rows), count));
            }
            else
            {
                int input = dims[0], output = dims[1];
                shapes.Add((new GemmShape($"{name} fwd", false, false, rows, output, input), count));
                shapes.Add((new GemmShape($"{name} dX", false, true, rows, input, output), count));
                if (!frozenBase) shapes.Add((new GemmShape($"{name} dW", true, false, input, output, rows), count));
            }
        }
        var results = GemmBenchmark.Run(shapes.Select(s => s.Shape), [Gemm.Provider], runs: 3);
        return results.Select((r, i) => (r, shapes[i].Count)).ToArray();
    }

    private static void Report(CausalLmConfig config, TrainResult ours, GemmBenchmarkResult square, JsonElement? reference, string? failure, bool json,
        TapeProfile? profile, IReadOnlyList<(GemmBenchmarkResult Result, int Count)>? gemms)
    {
        // Mean and median of the timed steps, for both (the median is robust to a step disturbed on a shared machine).
        double? referenceTokens = reference?.GetProperty("tokens_per_s").GetDouble();
        double? referenceMedian = reference is JsonElement e && e.TryGetProperty("median_tokens_per_s", out var m) ? m.GetDouble() : null;
        double? referenceRss = reference is JsonElement e2 && e2.TryGetProperty("peak_rss_mib", out var r2) ? r2.GetDouble() : null;
        double? ratio = referenceTokens is > 0 ? ours.TokensPerSecond / referenceTokens : null;
        double? medianRatio = referenceMedian is > 0 ? ours.MedianTokensPerSecond / referenceMedian : null;
        double gemmShare = ours.GflopsPerSecond / square.Gflops, medianGemmShare = ours.FlopsPerToken * ours.MedianTokensPerSecond / 1e9 / square.Gflops;
        var ops = profile?.Totals.OrderByDescending(p => p.Value.Forward + p.Value.Backward)
            .Select(p => (Op: p.Key, Count: p.Value.Count / (double)ours.Steps, ForwardMs: p.Value.Forward / ours.Steps,
                BackwardMs: p.Value.Backward / ours.Steps)).ToArray();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["rlhf"] = ours,
                ["pytorch"] = reference,
                ["ratio"] = ratio,
                ["ratio_median_step"] = medianRatio,
                ["gemm_gflops_1024"] = square.Gflops,
                ["gemm_share"] = gemmShare,
                ["gemm_share_median_step"] = medianGemmShare,
                ["peak_rss_ratio"] = ours.PeakRssMiB is double rss && referenceRss is > 0 ? rss / referenceRss : null,
                ["reference_error"] = reference is null ? failure : null,
                ["breakdown"] = ops?.Select(o => new { op = o.Op, per_step = o.Count, forward_ms = o.ForwardMs, backward_ms = o.BackwardMs }).ToArray(),
                ["model_gemms"] = gemms?.Select(g => new { g.Result.Label, g.Result.M, g.Result.N, g.Result.K, g.Result.TransA, g.Result.TransB, g.Result.Gflops, per_step = g.Count }).ToArray(),
            }));
            return;
        }
        var table = new Table().AddColumns("", "ms/step", "tokens/s", "median step ms", "median tokens/s", "GFLOP/s", "peak RSS (MiB)");
        table.AddRow($"Rlhf.NET ({ours.Provider}, {ours.Threads} threads)", $"{ours.MsPerStep:F0}", $"{ours.TokensPerSecond:F1}",
            $"{ours.MedianMsPerStep:F0}", $"{ours.MedianTokensPerSecond:F1}", $"{ours.GflopsPerSecond:F1}", ours.PeakRssMiB is double rss1 ? $"{rss1:F0}" : "?");
        if (reference is JsonElement r)
        {
            double refTokens = r.GetProperty("tokens_per_s").GetDouble();
            table.AddRow($"PyTorch {(r.TryGetProperty("torch_version", out var v) ? v.GetString() : "")}", $"{r.GetProperty("ms_per_step").GetDouble():F0}", $"{refTokens:F1}",
                r.TryGetProperty("median_ms_per_step", out var medianMs) ? $"{medianMs.GetDouble():F0}" : "?", referenceMedian is double rb ? $"{rb:F1}" : "?",
                $"{refTokens * ours.FlopsPerToken / 1e9:F1}", referenceRss is double rss2 ? $"{rss2:F0}" : "?");
        }
        AnsiConsole.MarkupLine($"{config.ModelType} with {ours.Parameters:N0} parameters ({ours.TrainableParameters:N0} trained), batch {ours.BatchSize} × {ours.SeqLen} tokens; loss {ours.FirstLoss:F4} → {ours.LastLoss:F4}");
        AnsiConsole.MarkupLine($"Setup: {Markup.Escape(ours.Setup)}" + (reference is JsonElement rs && rs.TryGetProperty("setup", out var theirs) ? $"; PyTorch: {Markup.Escape(theirs.GetString() ?? "?")}" : ""));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(ratio is double x
            ? $"Speed-up over PyTorch: [bold]{x:F2}×[/] (mean step){(medianRatio is double y ? $", [bold]{y:F2}×[/] (median step)" : "")}"
            : $"[yellow]No PyTorch reference: {Markup.Escape(failure ?? "?")}[/]");
        AnsiConsole.MarkupLine($"GEMM throughput here ({square.Provider}, 1024³): {square.Gflops:F1} GFLOP/s; the step reaches [bold]{gemmShare:P0}[/] of it " +
            $"({medianGemmShare:P0} at the median step), counting {ours.FlopsPerToken / 1e6:F0} MFLOP per token = 6·(linear weights + C·V) + 12·L·T·H·D" +
            (ours.Options.Lora is null ? "." : " with 4· for the frozen weights (no weight gradients), plus 6·r·(in + out) per adapter."));
        if (ours.PeakRssMiB is double ourRss && referenceRss is double theirRss)
            AnsiConsole.MarkupLine($"Peak RSS: {ourRss:F0} MiB vs PyTorch's {theirRss:F0} MiB ({ourRss / theirRss:P0}).");
        if (ops is not null)
        {
            double step = ours.ProfiledStepMs, sum = ops.Sum(o => o.ForwardMs + o.BackwardMs);
            var breakdown = new Table().AddColumns("op (per step)", "calls", "forward ms", "backward ms", "total ms", "share");
            foreach (var o in ops)
                breakdown.AddRow(o.Op, $"{o.Count:F0}", $"{o.ForwardMs:F1}", $"{o.BackwardMs:F1}", $"{o.ForwardMs + o.BackwardMs:F1}", $"{(o.ForwardMs + o.BackwardMs) / step:P1}");
            breakdown.AddRow("clip + AdamW", "1", "", "", $"{ours.ProfiledUpdateMs:F1}", $"{ours.ProfiledUpdateMs / step:P1}");
            double rest = step - sum - ours.ProfiledUpdateMs;
            breakdown.AddRow("rest (glue, arena)", "", "", "", $"{rest:F1}", $"{rest / step:P1}");
            breakdown.AddRow("step", "", "", "", $"{step:F1}", "100 %");
            AnsiConsole.MarkupLine($"Time per op kind ({(ours.Threads == 1 && ThreadCpuMilliseconds() is not null ? "CPU time of the one thread" : "wall clock")}, mean of the timed steps; forward = from the previous op to this one):");
            AnsiConsole.Write(breakdown);
        }
        if (gemms is not null)
        {
            var gemmTable = new Table().AddColumns("GEMM alone", "M×N×K", "op", "per step", "GFLOP/s", "ms per step");
            double totalMs = 0, totalFlops = 0;
            foreach (var (g, count) in gemms)
            {
                gemmTable.AddRow(g.Label, $"{g.M}×{g.N}×{g.K}", $"{(g.TransA ? "Aᵀ" : "A")}·{(g.TransB ? "Bᵀ" : "B")}", $"{count}", $"{g.Gflops:F1}", $"{g.Milliseconds * count:F1}");
                totalMs += g.Milliseconds * count;
                totalFlops += 2.0 * g.M * g.N * g.K * count;
            }
            AnsiConsole.Write(gemmTable);
            AnsiConsole.MarkupLine($"The linear layers' GEMMs alone: {totalMs:F0} ms per step, {totalFlops / totalMs / 1e6:F1} GFLOP/s.");
        }
    }
}
