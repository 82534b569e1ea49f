// `rlhf bench`: throughput benchmarks, each printed beside a PyTorch reference run on the same machine.
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class BenchCommand
{
    internal static readonly Option<string> GemmProvider = new("--gemm") { Description = "GEMM provider: auto, openblas, managed or scalar.", DefaultValueFactory = _ => "auto" };
    internal static readonly Option<int> Threads = new("--threads") { Description = "Worker threads (default: one per core).", DefaultValueFactory = _ => Environment.ProcessorCount };
    internal static readonly Option<bool> NoReference = new("--no-reference") { Description = "Skip the PyTorch reference run." };
    internal static readonly Option<bool> Json = new("--json") { Description = "Print one JSON object instead of a table." };

    public static Command Create()
    {
        var command = new Command("bench", "Throughput benchmarks (tokens/s, with a PyTorch reference run beside ours).");
        command.Subcommands.Add(BenchTrainCommand.Create());
        command.Subcommands.Add(CreateGenerate());
        command.Subcommands.Add(CreateGemm());
        command.Subcommands.Add(BenchTokenizeCommand.Create());
        return command;
    }

    /// <summary>
    /// This machine's environment sets OPENBLAS_CORETYPE=Haswell, which halves OpenBLAS (ours and PyTorch's) on AVX-512
    /// cores, and OPENBLAS_L2_SIZE; a benchmark re-runs itself without both so every provider and the reference run at their best.
    /// Returns the child's exit code, or null when this process should run the benchmark itself.
    /// </summary>
    internal static int? RerunWithoutCoreTypeOverride()
    {
        if ((Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") is null && Environment.GetEnvironmentVariable("OPENBLAS_L2_SIZE") is null)
            || Environment.GetEnvironmentVariable("RLHF_BENCH_CHILD") is not null
            || System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name != "Rlhf.Cli") return null; // in-process (tests): no re-run
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        var args = Environment.GetCommandLineArgs();
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(args[0]);
        foreach (var arg in args.Skip(1)) start.ArgumentList.Add(arg);
        start.Environment.Remove("OPENBLAS_CORETYPE");
        start.Environment.Remove("OPENBLAS_L2_SIZE");
        start.Environment["RLHF_BENCH_CHILD"] = "1";
        using var child = Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }

    internal static void Configure(ParseResult parse)
    {
        Gemm.Provider = Gemm.Create(parse.GetValue(GemmProvider));
        Parallelism.ThreadCount = parse.GetValue(Threads);
    }

    private static Command CreateGenerate()
    {
        var batchSizes = new Option<int[]>("--batch-size") { Description = "Prompts decoded together (one run per value).", DefaultValueFactory = _ => [1, 16], AllowMultipleArgumentsPerToken = true };
        var promptLength = new Option<int>("--prompt-len") { Description = "Prompt tokens.", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per prompt.", DefaultValueFactory = _ => 64 };
        var dtypes = new Option<string[]>("--weights-dtype")
        {
            Description = "Packed weight precision(s) to time: float32 (exact) and/or bfloat16 (half the bytes per token).",
            DefaultValueFactory = _ => ["float32", "bfloat16"], AllowMultipleArgumentsPerToken = true,
        };
        var runs = new Option<int>("--runs") { Description = "Timed generations per setting (ours and PyTorch's); the fastest is reported.", DefaultValueFactory = _ => 3 };
        var shape = new ModelShapeOptions();
        var command = new Command("generate", "Greedy decoding with the KV cache: decode tokens/s for a causal LM (default GPT-2 124M) at each batch size, beside PyTorch and llama.cpp.")
        {
            batchSizes, promptLength, newTokens, dtypes, runs, GemmProvider, Threads, NoReference, Json,
        };
        shape.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            if (RerunWithoutCoreTypeOverride() is int code) return code;
            Configure(parse);
            var config = shape.Resolve(parse, "gpt2");
            int p = parse.GetValue(promptLength), n = parse.GetValue(newTokens), r = parse.GetValue(runs);
            if (p <= 0 || n < 2 || r < 1) throw new ArgumentException("--prompt-len and --runs must be positive and --new-tokens at least 2.");
            bool json = parse.GetValue(Json);
            using var model = CausalLmRegistry.CreateRandom(config, seed: 1);
            var gpt2 = config as Gpt2Config;
            string? script = parse.GetValue(NoReference) || gpt2 is null ? null : ReferenceScripts.Find("bench/pytorch_generate.py");
            // The llama.cpp reference exports the model as GGUF: GPT-2 only for now.
            using var llamaCpp = parse.GetValue(NoReference) || gpt2 is null ? null : new LlamaCppReference(model);
            var rows = new List<Dictionary<string, object?>>();
            var precisions = parse.GetValue(dtypes)!.Select(GenerateCommand.ParseWeightsDtype).Distinct().ToArray();
            if (!InferenceWeights.Supported) precisions = [];
            var packs = precisions.Select(precision => InferenceWeights.Pack(model, precision)).ToArray();
            var table = new Table().AddColumns("batch", "weights", "prefill ms", "decode tokens/s", "weights GB/s", "PyTorch fp32", "ratio", "PyTorch same dtype", "ratio", "llama.cpp same dtype", "ratio", "llama.cpp GB/s");
            foreach (int b in parse.GetValue(batchSizes)!)
            {
                var timings = packs.Length == 0
                    ? [(WeightPrecision.Float32, "float32 (unpacked)", TimeGeneration(model, null, b, p, n, r), model.Parameters.ElementCount * 4L)]
                    : packs.Select(pack => (pack.Precision, GenerateCommand.DtypeName(pack.Precision), TimeGeneration(model, pack, b, p, n, r), pack.Bytes)).ToArray();
                // PyTorch in fp32 (its default) and, where we timed bfloat16 weights, in bfloat16 too.
                var references = new Dictionary<WeightPrecision, (double? TokensPerSecond, string? Failure)>();
                foreach (var precision in timings.Select(t => t.Item1).Append(WeightPrecision.Float32).Distinct())
                {
                    if (script is null)
                    {
                        references[precision] = (null, gpt2 is null ? "no PyTorch reference for " + config.ModelType : "skipped");
                        continue;
                    }
                    var reference = ReferenceScripts.Run(script,
                    [
                        "--n-layer", $"{gpt2!.LayerCount}", "--n-head", $"{gpt2.HeadCount}", "--n-embd", $"{gpt2.EmbeddingSize}",
                        "--vocab-size", $"{gpt2.VocabSize}", "--n-positions", $"{gpt2.ContextLength}",
                        "--batch-size", $"{b}", "--prompt-len", $"{p}", "--new-tokens", $"{n}", "--threads", $"{Parallelism.ThreadCount}", "--runs", $"{r}",
                        "--dtype", GenerateCommand.DtypeName(precision),
                    ], out var failure);
                    references[precision] = (reference?.GetProperty("tokens_per_s").GetDouble(), failure);
                }
                foreach (var (precision, weightsName, (prefillMs, decodeTokensPerSecond), weightBytes) in timings)
                {
                    // Every decode step reads each weight matrix once: the bandwidth that bounds batch 1.
                    double gigabytesPerSecond = weightBytes * decodeTokensPerSecond / b / 1e9;
                    var (fp32Tokens, fp32Failure) = references[WeightPrecision.Float32];
                    var (sameTokens, sameFailure) = references[precision];
                    double? ratio = fp32Tokens is > 0 ? decodeTokensPerSecond / fp32Tokens : null;
                    double? sameRatio = sameTokens is > 0 ? decodeTokensPerSecond / sameTokens : null;
                    // llama.cpp on the same model exported as GGUF in the same precision (f32 or bf16).
                    var (llamaTokens, llamaGigabytes, llamaFailure) = llamaCpp?.Run(precision, b, p, n, r) ?? (null, null, "skipped");
                    double? llamaRatio = llamaTokens is > 0 ? decodeTokensPerSecond / llamaTokens : null;
                    rows.Add(new()
                    {
                        ["batch_size"] = b, ["weights"] = weightsName, ["prefill_ms"] = prefillMs, ["tokens_per_s"] = decodeTokensPerSecond,
                        ["weights_gb_per_s"] = gigabytesPerSecond,
                        ["pytorch_tokens_per_s"] = fp32Tokens, ["ratio"] = ratio, ["pytorch_same_dtype_tokens_per_s"] = sameTokens,
                        ["ratio_same_dtype"] = sameRatio, ["reference_error"] = fp32Failure ?? sameFailure,
                        ["llamacpp_tokens_per_s"] = llamaTokens, ["ratio_llamacpp"] = llamaRatio, ["llamacpp_weights_gb_per_s"] = llamaGigabytes,
                        ["llamacpp_error"] = llamaFailure,
                    });
                    table.AddRow($"{b}", weightsName, $"{prefillMs:F0}", $"{decodeTokensPerSecond:F1}", $"{gigabytesPerSecond:F1}",
                        fp32Tokens is double f ? $"{f:F1}" : Markup.Escape(fp32Failure ?? "?"), ratio is double x ? $"{x:F2}×" : "",
                        sameTokens is double g ? $"{g:F1}" : Markup.Escape(sameFailure ?? "?"), sameRatio is double y ? $"{y:F2}×" : "",
                        llamaTokens is double l ? $"{l:F1}" : Markup.Escape(llamaFailure ?? "?"), llamaRatio is double z ? $"{z:F2}×" : "",
                        llamaGigabytes is double lg ? $"{lg:F1}" : "");
                }
            }
            foreach (var pack in packs) pack.Dispose();
            if (json) Console.WriteLine(JsonSerializer.Serialize(new { provider = Gemm.Provider.Name, prompt_len = p, new_tokens = n, runs = rows }));
            else
            {
                AnsiConsole.MarkupLine($"{config.ModelType} with {model.Parameters.ParameterCount:N0} parameters, prompt {p} tokens, {n} new tokens (greedy, KV cache, packed weights; best of {r} runs each)");
                AnsiConsole.Write(table);
            }
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Prefill time (generating one token) and decode throughput: batch × (n − 1) tokens over the time the full
    /// generation takes beyond the prefill — the same split the PyTorch script reports; the fastest of
    /// <paramref name="runs"/> runs of each (the machine is shared, so the best run is the least disturbed one).
    /// </summary>
    private static (double PrefillMs, double TokensPerSecond) TimeGeneration(ICausalLm model, InferenceWeights? weights, int batch,
        int promptLength, int newTokens, int runs)
    {
        var rng = new Rng(7);
        var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, promptLength).Select(_ => rng.NextInt(model.Config.VocabSize)).ToArray()).ToArray();
        var options = new GenerationOptions { MaxNewTokens = newTokens, EosTokenId = -1 };
        Generator.Generate(model, prompts, options with { MaxNewTokens = 2 }, weights); // warm-up
        double prefill = double.PositiveInfinity, decode = double.PositiveInfinity;
        for (int run = 0; run < runs; run++)
        {
            var clock = Stopwatch.StartNew();
            Generator.Generate(model, prompts, options with { MaxNewTokens = 1 }, weights);
            double prefillRun = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            Generator.Generate(model, prompts, options, weights);
            prefill = Math.Min(prefill, prefillRun);
            decode = Math.Min(decode, clock.Elapsed.TotalMilliseconds - prefillRun);
        }
        return (prefill, batch * (newTokens - 1) / Math.Max(1e-9, decode / 1000));
    }

    private static Command CreateGemm()
    {
        var runs = new Option<int>("--runs") { Description = "Timed runs per shape (the best is reported).", DefaultValueFactory = _ => 5 };
        var command = new Command("gemm", "GEMM throughput (GFLOP/s) of the managed kernel and OpenBLAS at 1024³ and GPT-2's shapes.") { runs, Threads, Json };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            if (RerunWithoutCoreTypeOverride() is int code) return code;
            Parallelism.ThreadCount = parse.GetValue(Threads);
            var results = GemmBenchmark.Run(runs: Math.Max(1, parse.GetValue(runs)));
            if (parse.GetValue(Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(results));
                return 0;
            }
            var providers = results.Select(r => r.Provider).Distinct().ToArray();
            var table = new Table().AddColumns(["shape", "M×N×K", "op", .. providers.Select(p => $"{p} GFLOP/s"), .. providers.Length > 1 ? new[] { $"{providers[0]} / {providers[1]}" } : []]);
            foreach (var group in results.GroupBy(r => r.Label))
            {
                var first = group.First();
                var cells = new List<string> { group.Key, $"{first.M}×{first.N}×{first.K}", $"{(first.TransA ? "Aᵀ" : "A")}·{(first.TransB ? "Bᵀ" : "B")}" };
                cells.AddRange(providers.Select(p => group.FirstOrDefault(r => r.Provider == p) is { Provider: not null } r ? $"{r.Gflops:F1}" : "-"));
                if (providers.Length > 1)
                {
                    var a = group.First(r => r.Provider == providers[0]).Gflops;
                    var b = group.First(r => r.Provider == providers[1]).Gflops;
                    cells.Add($"{a / b:P0}");
                }
                table.AddRow(cells.ToArray());
            }
            AnsiConsole.MarkupLine($"GEMM, fp32, {Parallelism.ThreadCount} threads{(providers.Contains("openblas") ? " (OpenBLAS with OPENBLAS_CORETYPE unset)" : " (OpenBLAS not found)")}");
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
