// Generation: PyTorch greedy reference, cache vs recomputation, batching vs one at a time, seeds, EOS, limits.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public class GenerationTests
{
    private static readonly string Folder = Fixtures.Path("gpt2_generate");

    private static (int[] Prompt, int[] Ids, double[] LogProbs)[] Reference()
    {
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "generate.json"))).RootElement;
        return root.GetProperty("results").EnumerateArray().Select(r => (
            r.GetProperty("prompt").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            r.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            r.GetProperty("logprobs").EnumerateArray().Select(x => x.GetDouble()).ToArray())).ToArray();
    }

    [Fact]
    public void BatchedGreedyIdsEqualThePyTorchReference()
    {
        var reference = Reference();
        using var model = Gpt2Model.Load(Folder);
        var results = Generator.Generate(model, reference.Select(r => r.Prompt).ToArray(), new GenerationOptions { MaxNewTokens = 12 });
        for (int i = 0; i < reference.Length; i++)
        {
            Assert.Equal(reference[i].Ids, results[i].Ids);
            for (int t = 0; t < reference[i].Ids.Length; t++) Assert.Equal(reference[i].LogProbs[t], results[i].LogProbs[t], 1e-4);
        }
    }

    [SkippableFact]
    public void BFloat16WeightsStayCloseToTheFloat32Reference()
    {
        Skip.IfNot(InferenceWeights.Supported, "packed inference weights need AVX-512");
        var reference = Reference();
        using var model = Gpt2Model.Load(Folder);
        using var packed = InferenceWeights.Pack(model, WeightPrecision.BFloat16);
        Assert.Equal(WeightPrecision.BFloat16, packed.Precision);
        var prompts = reference.Select(r => r.Prompt).ToArray();
        var results = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 12 }, packed);
        for (int i = 0; i < reference.Length; i++)
        {
            // The first token follows the same prompt: its log-probability moves only by the weights' rounding.
            Assert.Equal(reference[i].LogProbs[0], results[i].LogProbs[0], 0.05);
            Assert.Equal(reference[i].Ids.Length, results[i].Ids.Length);
        }
        // Same packed weights, same inputs → same outputs.
        var again = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 12 }, packed);
        Assert.Equal(results.Select(r => r.Ids), again.Select(r => r.Ids));
        using var other = Gpt2Model.Load(Folder);
        Assert.Throws<ArgumentException>(() => Generator.Generate(other, prompts, new GenerationOptions { MaxNewTokens = 2 }, packed));
    }

    [Fact]
    public void CachedGenerationEqualsFullRecomputation()
    {
        using var model = Gpt2Model.Load(Folder);
        int[] prompt = [7, 8, 9, 10];
        var result = Generator.Generate(model, [prompt], new GenerationOptions { MaxNewTokens = 10, DoSample = true, Seed = 3, Temperature = 0.9f })[0];
        // Recompute every step from scratch (no cache) on the full sequence.
        int[] sequence = [.. prompt, .. result.Ids];
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        var batch = new CausalLmBatch(1, sequence.Length, sequence);
        var logProbs = CausalLm.TokenLogProbs(model, ops, batch, trainable: false).Value.ToArray();
        // Generated log-probs are at temperature 0.9: recompute those from the logits.
        var full = FullLogits(model, sequence);
        for (int t = 0; t < result.Ids.Length; t++)
        {
            var row = full.AsSpan((prompt.Length - 1 + t) * model.Config.VocabSize, model.Config.VocabSize).ToArray();
            Sampling.LogSoftmax(row, 0.9f);
            Assert.Equal(row[result.Ids[t]], result.LogProbs[t], 1e-4);
            Assert.True(Math.Abs(logProbs[prompt.Length - 1 + t]) > 0); // a target exists there
        }
    }

    private static unsafe float[] FullLogits(Gpt2Model model, int[] sequence)
    {
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        var embedding = model.TokenEmbedding(ops, trainable: false);
        var batch = new CausalLmBatch(1, sequence.Length, sequence);
        var hidden = model.Forward(ops, batch.TokenIds, batch.PositionIds, null, 1, sequence.Length, trainable: false);
        int c = model.Config.EmbeddingSize, v = model.Config.VocabSize;
        var logits = new float[sequence.Length * v];
        fixed (float* l = logits) Gemm.Sgemm(false, true, sequence.Length, v, c, 1f, hidden.Value.Pointer, c, embedding.Value.Pointer, c, 0f, l, v);
        return logits;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchedLeftPaddedGenerationEqualsOnePromptAtATime(bool sample)
    {
        using var model = Gpt2Model.Load(Folder);
        int[][] prompts = [[3], [4, 5, 6, 7, 8, 9], [10, 11]];
        var options = new GenerationOptions { MaxNewTokens = 8, DoSample = sample, TopK = sample ? 20 : 0, TopP = sample ? 0.9f : 1f, Seed = 5 };
        var batched = Generator.Generate(model, prompts, options);
        for (int i = 0; i < prompts.Length; i++)
        {
            // Row i of a batch draws from the generator seeded with (seed, i): give the single run the same row.
            var padded = Enumerable.Range(0, i + 1).Select(j => j == i ? prompts[i] : prompts[j]).ToArray();
            var alone = Generator.Generate(model, padded, options)[i];
            var single = Generator.Generate(model, [prompts[i]], options with { Seed = options.Seed })[0];
            Assert.Equal(alone.Ids, batched[i].Ids);
            if (!sample || i == 0) Assert.Equal(single.Ids, batched[i].Ids);
            for (int t = 0; t < alone.Ids.Length; t++) Assert.Equal(alone.LogProbs[t], batched[i].LogProbs[t], 1e-4f);
        }
    }

    [Fact]
    public void SamplingIsReproducibleFromTheSeed()
    {
        using var model = Gpt2Model.Load(Folder);
        int[][] prompts = [[1, 2, 3], [4]];
        var options = new GenerationOptions { MaxNewTokens = 10, DoSample = true, Temperature = 1.5f, Seed = 11 };
        var first = Generator.Generate(model, prompts, options);
        var second = Generator.Generate(model, prompts, options);
        var other = Generator.Generate(model, prompts, options with { Seed = 12 });
        Assert.Equal(first.Select(r => r.Ids), second.Select(r => r.Ids));
        Assert.NotEqual(first.SelectMany(r => r.Ids), other.SelectMany(r => r.Ids));
    }

    [Fact]
    public void StopsAtEosAndReportsIt()
    {
        using var model = Gpt2Model.Load(Folder);
        var reference = Reference();
        // Make the first greedy token of prompt 0 the EOS id: generation stops right after it.
        int firstToken = reference[0].Ids[0];
        var result = Generator.Generate(model, [reference[0].Prompt], new GenerationOptions { MaxNewTokens = 12, EosTokenId = firstToken })[0];
        Assert.Equal([firstToken], result.Ids);
        Assert.True(result.EndedWithEos);
        var capped = Generator.Generate(model, [reference[0].Prompt], new GenerationOptions { MaxNewTokens = 3 })[0];
        Assert.Equal(reference[0].Ids[..3], capped.Ids);
        Assert.False(capped.EndedWithEos);
    }

    [Fact]
    public void PromptsBeyondTheContextAreRejectedOrTruncatedOnRequest()
    {
        using var model = Gpt2Model.Load(Folder); // n_positions 48
        var longPrompt = Enumerable.Range(0, 45).Select(i => i % 50).ToArray();
        var error = Assert.Throws<ArgumentException>(() => Generator.Generate(model, [longPrompt], new GenerationOptions { MaxNewTokens = 5 }));
        Assert.Contains("context of 48", error.Message);
        var truncated = Generator.Generate(model, [longPrompt], new GenerationOptions { MaxNewTokens = 5, TruncatePromptLeft = true })[0];
        Assert.Equal(43, truncated.PromptIds.Length);
        Assert.Equal(longPrompt[2..], truncated.PromptIds);
        Assert.Throws<ArgumentOutOfRangeException>(() => Generator.Generate(model, [[1, 99]], new GenerationOptions()));
    }
}

public class SamplingTests
{
    private static float[] LogProbs(params double[] probabilities) => probabilities.Select(p => (float)Math.Log(p)).ToArray();

    [Fact]
    public void TopKKeepsTheKLargestAndTiesAtTheBoundary()
    {
        var lp = LogProbs(0.1, 0.3, 0.05, 0.3, 0.25);
        Assert.Equal([false, true, false, true, false], Sampling.Allowed(lp, 2, 1f));
        Assert.Equal([false, true, false, true, true], Sampling.Allowed(lp, 3, 1f));
        var tied = LogProbs(0.2, 0.2, 0.2, 0.4);
        Assert.Equal([true, true, true, true], Sampling.Allowed(tied, 2, 1f)); // ties at the 2nd value are kept, like HF
        Assert.All(Sampling.Allowed(lp, 0, 1f), Assert.True);
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        var lp = LogProbs(0.1, 0.3, 0.05, 0.35, 0.2);
        Assert.Equal([false, false, false, true, false], Sampling.Allowed(lp, 0, 0.3f));
        Assert.Equal([false, true, false, true, false], Sampling.Allowed(lp, 0, 0.6f));
        Assert.Equal([false, true, false, true, true], Sampling.Allowed(lp, 0, 0.7f));
        Assert.Equal([true, true, false, true, true], Sampling.Allowed(lp, 0, 0.9f));
        Assert.Equal([false, false, false, true, false], Sampling.Allowed(lp, 0, 0.01f)); // at least one token
        // top-k first, then top-p over the renormalised survivors: {0.35, 0.3} → 0.538, 0.462.
        Assert.Equal([false, true, false, true, false], Sampling.Allowed(lp, 2, 0.6f));
        Assert.Equal([false, false, false, true, false], Sampling.Allowed(lp, 2, 0.5f));
    }

    [Fact]
    public void DrawFollowsTheRenormalisedDistribution()
    {
        var lp = LogProbs(0.5, 0.25, 0.25);
        var allowed = new[] { true, false, true };
        var rng = new Rng(1);
        var counts = new int[3];
        for (int i = 0; i < 30000; i++) counts[Sampling.Draw(lp, allowed, rng)]++;
        Assert.Equal(0, counts[1]);
        Assert.InRange(counts[0] / 30000.0, 0.64, 0.69); // 2/3
    }

    [Fact]
    public void TopKAndTopPMatchAFullSortReference()
    {
        var rng = new Random(5);
        foreach (int n in new[] { 1, 2, 7, 100, 3000 })
            for (int trial = 0; trial < 20; trial++)
            {
                // Peaked or flat logits, many exact ties (rounded), a few −∞.
                double spread = trial % 2 == 0 ? 3 : 20;
                var logits = Enumerable.Range(0, n).Select(_ => (float)Math.Round(rng.NextDouble() * spread, 1)).ToArray();
                if (n > 10) logits[3] = float.NegativeInfinity;
                Sampling.LogSoftmax(logits);
                int k = new[] { 0, 1, 5, n / 2, n + 1 }[trial % 5];
                float p = new[] { 1f, 0.9f, 0.5f, 0.05f }[trial % 4];
                Assert.Equal(ReferenceAllowed(logits, k, p), Sampling.Allowed(logits, k, p));
            }
    }

    // The straightforward definition: sort everything (descending, ties by id), then apply top-k and top-p.
    private static bool[] ReferenceAllowed(float[] values, int topK, float topP)
    {
        int n = values.Length;
        var keep = Enumerable.Repeat(true, n).ToArray();
        var order = Enumerable.Range(0, n).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();
        if (topK > 0 && topK < n)
        {
            float threshold = values[order[topK - 1]];
            for (int i = 0; i < n; i++) keep[i] = values[i] >= threshold;
        }
        if (topP < 1f)
        {
            double total = 0;
            for (int i = 0; i < n; i++) if (keep[i]) total += Math.Exp(values[i]);
            double cumulative = 0;
            bool reached = false;
            foreach (int i in order)
            {
                if (!keep[i]) continue;
                if (reached) { keep[i] = false; continue; }
                cumulative += Math.Exp(values[i]) / total;
                if (cumulative >= topP) reached = true;
            }
        }
        return keep;
    }

    [Fact]
    public void ArgMaxTakesTheFirstOnTies() => Assert.Equal(1, Sampling.ArgMax([0f, 2f, 2f, -1f]));

    [Fact]
    public void VectorArgMaxMatchesTheScalarOne()
    {
        var rng = new Random(11);
        foreach (int n in new[] { 1, 31, 32, 33, 1000, 50257 })
        {
            var row = Enumerable.Range(0, n).Select(_ => (float)rng.Next(-50, 50)).ToArray(); // many ties
            Assert.Equal(Sampling.ArgMaxScalar(row), Sampling.ArgMax(row));
            row[n / 2] = float.NaN; // NaN never wins
            Assert.Equal(Sampling.ArgMaxScalar(row), Sampling.ArgMax(row));
            row[^1] = 1000f; // the maximum in the scalar tail
            Assert.Equal(n - 1 == n / 2 ? Sampling.ArgMaxScalar(row) : n - 1, Sampling.ArgMax(row));
            Array.Fill(row, float.NegativeInfinity);
            Assert.Equal(0, Sampling.ArgMax(row));
        }
    }
}
