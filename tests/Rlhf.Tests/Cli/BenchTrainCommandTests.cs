// `rlhf bench train` on a tiny Llama: the JSON report (FLOP count, GEMM share, per-op breakdown; full fine-tuning,
// LoRA, gradient checkpointing) and, where Debian's PyTorch is installed, the Llama reference run through a config.json
// with the same setup. Nothing here asserts a speed.
using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class BenchTrainCommandTests
{
    // 1 layer, C = 32, 4 heads of D = 8, 2 key/value heads, MLP 48, vocabulary 64, 8 tokens per sequence.
    private static readonly string[] TinyLlama =
    [
        "bench", "train", "--model-type", "llama", "--n-layer", "1", "--n-embd", "32", "--n-head", "4", "--num-key-value-heads", "2",
        "--intermediate-size", "48", "--vocab-size", "64", "--n-positions", "32", "--batch-size", "2", "--seq-len", "8",
        "--steps", "2", "--warmup", "1", "--json",
    ];

    private static JsonNode Report(params string[] extra)
    {
        var (code, output, error) = CliRun.Separate([.. TinyLlama, .. extra]);
        Assert.True(code == 0, error + output);
        return JsonNode.Parse(output.Split('\n').Last(l => l.StartsWith('{')))!;
    }

    [Fact]
    public void ReportsTheFlopCountTheGemmShareAndEveryOpKind()
    {
        var report = Report("--no-reference", "--breakdown");
        var ours = report["rlhf"]!;
        Assert.Equal("llama", ours["ModelType"]!.GetValue<string>());
        // 3 × forward: linear weights L·(2·C·H·D + 2·C·KV·D + 3·C·I) = 1024 + 1024 + 512 + 512 + 4608 = 7680, attention
        // 4·L·T·H·D = 4·8·32 = 1024, head 2·C·V = 4096 → 3·(2·7680 + 1024 + 4096) = 61,440.
        Assert.Equal(61_440, ours["FlopsPerToken"]!.GetValue<double>());
        Assert.True(report["gemm_gflops_1024"]!.GetValue<double>() > 0);
        Assert.True(report["gemm_share"]!.GetValue<double>() > 0);
        Assert.Equal("skipped (--no-reference)", report["reference_error"]!.GetValue<string>());
        var ops = report["breakdown"]!.AsArray().ToDictionary(o => o!["op"]!.GetValue<string>(), o => o!["per_step"]!.GetValue<double>());
        // Per step: 7 linear layers, 3 RMSNorms (two in the block, the final one), q and k rotated, one attention, one SwiGLU.
        Assert.Equal(7, ops["LinearOutIn"]);
        Assert.Equal(3, ops["RmsNorm"]);
        Assert.Equal(2, ops["Rotary"]);
        Assert.Equal(1, ops["GroupedAttention"]);
        Assert.Equal(1, ops["SwiGlu"]);
        Assert.Equal(1, ops["LinearCrossEntropy"]);
        var gemms = report["model_gemms"]!.AsArray();
        Assert.Equal(3 * 4, gemms.Count); // forward, dX, dW of the 4 distinct weight shapes ([32,32], [16,32], [48,32], [32,48])
        Assert.Equal(7 * 3, gemms.Sum(g => g!["per_step"]!.GetValue<int>()));
    }

    [SkippableFact]
    [Trait("Category", "Reference")]
    public void RunsThePyTorchLlamaReferenceOnTheSameShape()
    {
        Skip.IfNot(TorchAvailable(), "needs Debian's /usr/bin/python3 with python3-torch to run the reference");
        var report = Report();
        Assert.Null(report["reference_error"]);
        var pytorch = report["pytorch"]!;
        Assert.Equal("llama", pytorch["model_type"]!.GetValue<string>());
        // The reference built the same shape: same parameter count, same batch.
        Assert.Equal(report["rlhf"]!["Parameters"]!.GetValue<long>(), pytorch["params"]!.GetValue<long>());
        Assert.Equal(2, pytorch["batch_size"]!.GetValue<int>());
        Assert.True(report["ratio"]!.GetValue<double>() > 0);
    }

    [Fact]
    public void TrainsLoraAdaptersOnAFrozenBaseAndCountsNoWeightGradientsForIt()
    {
        var report = Report("--no-reference", "--breakdown", "--use-peft", "--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0.1",
            "--lora-target-modules", "q_proj,v_proj");
        var ours = report["rlhf"]!;
        Assert.Equal("LoRA r=4 α=8 dropout 0.1 on q_proj,v_proj, fp32 base", ours["Setup"]!.GetValue<string>());
        Assert.Equal(["q_proj", "v_proj"], ours["LoraTargetModules"]!.AsArray().Select(m => m!.GetValue<string>()));
        // Only the adapters train: r·(in + out) for q_proj (32 → 32) and v_proj (32 → 16) = 4·64 + 4·48 = 448.
        Assert.Equal(448, ours["TrainableParameters"]!.GetValue<long>());
        Assert.Equal(11_872 + 448, ours["Parameters"]!.GetValue<long>()); // the model's own 11,872, all frozen, and the adapters
        Assert.NotEqual(ours["FirstLoss"]!.GetValue<double>(), ours["LastLoss"]!.GetValue<double>()); // the adapters did train
        // Frozen weights: forward + dX = 2 × 2·|W|, no dW: 4·7680 (linear) + 4·C·V = 4·2048 (the LM head, frozen); attention
        // unchanged 12·L·T·H·D = 3072; each adapter 3 × 2·r·(in + out) = 6·448 → 30,720 + 8,192 + 3,072 + 2,688 = 44,672.
        Assert.Equal(44_672, ours["FlopsPerToken"]!.GetValue<double>());
        var gemms = report["model_gemms"]!.AsArray();
        Assert.Equal(2 * 4, gemms.Count); // forward and dX of the 4 weight shapes; no dW GEMM for a frozen base
        Assert.DoesNotContain(gemms, g => g!["Label"]!.GetValue<string>().EndsWith(" dW", StringComparison.Ordinal));
    }

    [Fact]
    public void GradientCheckpointingReachesTheModel()
    {
        var report = Report("--no-reference", "--breakdown", "--gradient-checkpointing");
        Assert.Equal("full fine-tuning, gradient checkpointing", report["rlhf"]!["Setup"]!.GetValue<string>());
        var ops = report["breakdown"]!.AsArray().ToDictionary(o => o!["op"]!.GetValue<string>(), o => o!["per_step"]!.GetValue<double>());
        Assert.Equal(1, ops["Checkpoint"]); // the one block runs as one recomputed op on the tape
        Assert.False(ops.ContainsKey("GroupedAttention"));
        // The FLOP count is the model's (MFU): recomputation is not counted.
        Assert.Equal(61_440, report["rlhf"]!["FlopsPerToken"]!.GetValue<double>());
    }

    [SkippableFact]
    public void TrainsLoraOnABfloat16Base()
    {
        Skip.IfNot(Rlhf.Models.InferenceWeights.Supported, "the packed bf16 kernels need AVX-512");
        var report = Report("--no-reference", "--use-peft", "--lora-r", "4", "--lora-target-modules", "all-linear", "--base-dtype", "bfloat16",
            "--gradient-checkpointing");
        var ours = report["rlhf"]!;
        Assert.EndsWith("bf16 base, gradient checkpointing", ours["Setup"]!.GetValue<string>());
        Assert.True(double.IsFinite(ours["LastLoss"]!.GetValue<double>()));
        Assert.NotEqual(ours["FirstLoss"]!.GetValue<double>(), ours["LastLoss"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("--base-dtype bfloat16", "--base-dtype bfloat16 needs --use-peft")]
    [InlineData("--base-dtype float16", "--base-dtype 'float16' is not supported")]
    [InlineData("--use-peft --lora-target-modules c_attn", "c_attn")]
    [InlineData("--use-peft --lora-r 0", "--lora-r")]
    public void RejectsBadSetupsWithAOneLineError(string options, string expected)
    {
        var (code, output, error) = CliRun.Separate([.. TinyLlama, "--no-reference", .. options.Split(' ')]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, error + output, StringComparison.Ordinal);
    }

    [SkippableFact]
    [Trait("Category", "Reference")]
    public void RunsThePyTorchReferenceWithTheSameLoraAndCheckpointing()
    {
        Skip.IfNot(TorchAvailable(), "needs Debian's /usr/bin/python3 with python3-torch to run the reference");
        var report = Report("--use-peft", "--lora-r", "4", "--lora-target-modules", "all-linear", "--gradient-checkpointing");
        Assert.Null(report["reference_error"]);
        var (ours, pytorch) = (report["rlhf"]!, report["pytorch"]!);
        // Both sides ran the same setup: the same description, the same adapted modules and trained parameter count.
        Assert.Equal(ours["Setup"]!.GetValue<string>(), pytorch["setup"]!.GetValue<string>());
        Assert.Equal(7, pytorch["lora_modules"]!.GetValue<int>());
        Assert.Equal(ours["TrainableParameters"]!.GetValue<long>(), pytorch["trainable_params"]!.GetValue<long>());
        Assert.Equal(ours["Parameters"]!.GetValue<long>(), pytorch["params"]!.GetValue<long>());
        Assert.True(pytorch["gradient_checkpointing"]!.GetValue<bool>());
    }

    private static bool TorchAvailable()
    {
        if (!File.Exists("/usr/bin/python3")) return false;
        using var probe = Process.Start(new ProcessStartInfo("/usr/bin/python3", "-c \"import torch\"") { RedirectStandardError = true })!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }
}
