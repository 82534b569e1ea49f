// FrozenCopy (a frozen model whose linear layers live only as packed bf16 or fp32 weights): its token log-probs against
// the fp32 model with the same weights, rounded to bf16 for the bf16 copy; `rlhf dpo --base-dtype bfloat16` and
// `rlhf bench dpo` run on it.
using System.Text.Json;
using Rlhf.Cli.Commands;
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Data;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

[Collection("Console")]
public sealed class FrozenCopyTests
{
    private static readonly Gpt2Config Tiny = new()
    {
        VocabSize = 40, ContextLength = 16, EmbeddingSize = 32, LayerCount = 2, HeadCount = 2, BosTokenId = 39, EosTokenId = 39,
        InitializerRange = 0.2f,
    };

    private static readonly CausalLmBatch Batch = new(2, 8,
        [5, 7, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);

    private static float[] LogProbs(ICausalLm model, InferenceWeights? packed)
    {
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        var hidden = model.Forward(ops, Batch.TokenIds, Batch.PositionIds, Batch.KeyMask(arena), Batch.BatchSize, Batch.SequenceLength,
            trainable: false, packed: packed);
        return CausalLm.TokenLogProbs(model, ops, hidden, Batch, trainable: false).Value.ToArray();
    }

    [SkippableTheory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void MatchesTheFloat32ModelWithTheSameWeights(string family)
    {
        Skip.IfNot(InferenceWeights.Supported, "packed weights need AVX-512");
        using var source = CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(family, Tiny), seed: 6);
        // fp32 packing: the same weights, another summation order in the GEMM → ≤ 1e-5.
        var (copy, weights) = FrozenCopy.Create(source, WeightPrecision.Float32);
        using (copy)
        using (weights)
            AssertClose(LogProbs(source, null), LogProbs(copy, weights), 1e-5);

        // bf16: the same as the fp32 model whose linear weights are rounded to bf16 (products and sums stay fp32) → ≤ 1e-5;
        // and visibly different from the unrounded model (the rounding is really applied).
        var (frozen, packed) = FrozenCopy.Create(source, WeightPrecision.BFloat16);
        using (frozen)
        using (packed)
        {
            var bf16 = LogProbs(frozen, packed);
            var exact = LogProbs(source, null);
            foreach (var (name, _) in source.LinearWeights)
            {
                var values = source.Parameters[name].Value.Span;
                for (int i = 0; i < values.Length; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)ReducedPrecisionKernels.ToBFloat16(values[i]) << 16);
            }
            AssertClose(LogProbs(source, null), bf16, 1e-5);
            Assert.True(exact.Zip(bf16).Max(p => Math.Abs(p.First - p.Second)) > 1e-6, "bf16 rounding should change the log-probs");
        }
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"log-prob {i}: {actual[i]} vs {expected[i]} (tolerance {tolerance})");
    }

    [SkippableFact]
    public void DpoTrainsAgainstABFloat16Reference()
    {
        Skip.IfNot(InferenceWeights.Supported, "packed weights need AVX-512");
        using var dir = new TempDirectory();
        string model = TinyModels.Create(dir.Sub("model"), context: 128, family: ModelFamilies.Llama);
        var (code, _, error) = CliRun.Separate("dpo", "--model", model, "--dataset", DataSamples.HhSample, "--output", dir.Sub("dpo"),
            "--max-steps", "2", "--per-device-train-batch-size", "2", "--base-dtype", "bfloat16", "--gradient-checkpointing");
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(dir.Sub("dpo"), "model.safetensors")));
        var bad = CliRun.Separate("dpo", "--model", model, "--dataset", DataSamples.HhSample, "--output", dir.Sub("dpo2"), "--base-dtype", "float8");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("--base-dtype 'float8'", bad.Error);
    }

    [SkippableTheory]
    [InlineData("float32", false)]
    [InlineData("bfloat16", true)]
    public void BenchDpoMeasuresOneConfiguration(string dtype, bool checkpointing)
    {
        Skip.If(dtype == "bfloat16" && !InferenceWeights.Supported, "packed weights need AVX-512");
        // The command runs each configuration in a child process; here the child's part runs in-process.
        Environment.SetEnvironmentVariable(BenchDpoCommand.RunVariable, "measured");
        try
        {
            string[] args = ["bench", "dpo", "--preset", "smollm2-135m", "--n-layer", "2", "--n-embd", "64", "--n-head", "4", "--intermediate-size", "96",
                "--vocab-size", "300", "--batch-size", "1", "--seq-len", "12", "--steps", "1", "--warmup", "1", "--threads", "1", "--base-dtype", dtype,
                .. checkpointing ? new[] { "--gradient-checkpointing" } : []];
            var (code, output, error) = CliRun.Separate(args);
            Assert.True(code == 0, error);
            var result = JsonDocument.Parse(output.Split('\n').Last(l => l.StartsWith('{'))).RootElement;
            Assert.True(result.GetProperty("tokens_per_second").GetDouble() > 0);
            Assert.Equal(12, result.GetProperty("seq_len").GetInt32());
            Assert.Contains(checkpointing ? "gradient checkpointing" : "fp32 reference", result.GetProperty("setup").GetString());
            Assert.True(double.IsFinite(result.GetProperty("last_loss").GetDouble()));
            // Every timed step is reported, and the fastest is the least of them.
            var steps = result.GetProperty("step_ms").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Single(steps);
            Assert.Equal(steps.Min(), result.GetProperty("fastest_ms_per_step").GetDouble());
        }
        finally
        {
            Environment.SetEnvironmentVariable(BenchDpoCommand.RunVariable, null);
        }
    }
}
