// Our Llama family (LlamaModel through ICausalLm) against the independent PyTorch fixtures of
// tools/reference/llama_fixture.py — GQA with an untied head in three shards, llama3 rope scaling with head_dim and
// biases, qwen2 q/k/v biases in BF16: logits ≤ 1e-4 at real tokens, the loss, every gradient ≤ 1e-3 of its tensor's
// largest value, five clipped AdamW steps, and KV-cache greedy generation token for token (batched = one at a time).
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Models.Llama;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed unsafe class LlamaReferenceTests
{
    public static readonly TheoryData<string> Cases = new() { "llama_gqa_sharded", "llama3_tied", "qwen2_bf16" };

    private sealed record Fixture(string Folder, CausalLmBatch Batch, JsonElement Root);

    private static Fixture LoadFixture(string name)
    {
        string folder = Fixtures.Path(name);
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "fixture.json"))).RootElement;
        return new Fixture(folder, FixtureLogits.Batch(root), root);
    }

    private static int[][] Rows(JsonElement root, string name) =>
        root.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();

    private static float[] Expected(Fixture fixture, string name)
    {
        using var file = SafeTensors.Open(Path.Combine(fixture.Folder, "expected.safetensors"));
        var values = new float[file.Tensors[name].ElementCount];
        file.ReadInto(name, values);
        return values;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheRegistryPicksTheLlamaFamilyWithTheFixturesShapes(string name)
    {
        var fixture = LoadFixture(name);
        using var model = CausalLmRegistry.Load(fixture.Folder);
        var config = Assert.IsType<LlamaConfig>(model.Config);
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "config.json"))).RootElement;
        Assert.Equal(json.GetProperty("model_type").GetString(), config.ModelType);
        Assert.Equal(json.GetProperty("num_key_value_heads").GetInt32(), config.KeyValueHeadCount);
        Assert.Equal(json.GetProperty("tie_word_embeddings").GetBoolean(), config.TieWordEmbeddings);
        Assert.Equal(config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", model.LmHeadWeightName);
        Assert.Equal(name != "llama_gqa_sharded", model.Parameters.TryGet("model.layers.0.self_attn.q_proj.bias", out _));
        Assert.Equal(name == "llama3_tied", model.Parameters.TryGet("model.layers.0.self_attn.o_proj.bias", out _));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsMatchPyTorchAtRealTokens(string name)
    {
        var fixture = LoadFixture(name);
        var batch = fixture.Batch;
        using var model = CausalLmRegistry.Load(fixture.Folder);
        int rows = batch.TokenIds.Length, vocab = model.Config.VocabSize;
        var logits = FixtureLogits.Compute(model, batch);
        var expected = Expected(fixture, "logits");
        double worst = 0;
        for (int n = 0; n < rows; n++)
        {
            if (batch.AttentionMask[n] == 0) continue; // padding queries are implementation-defined
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(expected[n * vocab + v] - logits[n * vocab + v]));
        }
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:G3} > 1e-4");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndEveryGradientMatchPyTorch(string name)
    {
        var fixture = LoadFixture(name);
        using var model = CausalLmRegistry.Load(fixture.Folder);
        using var step = new LanguageModelStep(model, new AdamWOptions());
        float loss = step.Accumulate(fixture.Batch);
        Assert.Equal(fixture.Root.GetProperty("loss").GetDouble(), loss, 1e-5);
        foreach (var parameter in model.Parameters.Parameters)
        {
            var expected = Expected(fixture, "grad." + parameter.Name);
            var actual = parameter.Gradient.ToArray();
            double scale = expected.Max(Math.Abs);
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= 1e-3 * scale, $"{parameter.Name}: max |grad difference| {worst:G3} > 1e-3 × {scale:G3}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FiveClippedAdamWStepsMatchPyTorch(string name)
    {
        var fixture = LoadFixture(name);
        var adam = fixture.Root.GetProperty("adamw");
        var options = new AdamWOptions((float)adam.GetProperty("beta1").GetDouble(), (float)adam.GetProperty("beta2").GetDouble(),
            (float)adam.GetProperty("eps").GetDouble(), (float)adam.GetProperty("weight_decay").GetDouble());
        float lr = (float)adam.GetProperty("lr").GetDouble();
        double maxNorm = adam.GetProperty("max_grad_norm").GetDouble();
        var expectedLosses = adam.GetProperty("adamw_losses").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var expectedNorms = adam.GetProperty("grad_norms").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var decayed = adam.GetProperty("decay_param_names").EnumerateArray().Select(x => x.GetString()).ToHashSet();

        using var model = CausalLmRegistry.Load(fixture.Folder);
        Assert.All(model.Parameters.Parameters, p => Assert.Equal(decayed.Contains(p.Name), p.Decay));
        using var step = new LanguageModelStep(model, options);
        for (int s = 0; s < expectedLosses.Length; s++)
        {
            float loss = step.Accumulate(fixture.Batch);
            Assert.True(Math.Abs(expectedLosses[s] - loss) <= 1e-4, $"step {s}: loss {loss} vs PyTorch {expectedLosses[s]}");
            double norm = step.Update(lr, maxNorm);
            Assert.True(Math.Abs(expectedNorms[s] - norm) <= 1e-4 * expectedNorms[s], $"step {s}: grad norm {norm} vs PyTorch {expectedNorms[s]}");
        }
        Assert.Equal(adam.GetProperty("final_loss").GetDouble(), step.Evaluate(fixture.Batch), 1e-4);
        foreach (var parameter in model.Parameters.Parameters)
        {
            // AdamW moves every element by about lr per step whatever its gradient's size, so an element whose gradient is
            // at fp32 rounding level moves on noise (k_proj biases of low rotary frequencies: a bias shared by every key
            // cancels in the softmax except through the rotation). Elements whose first gradient is below 1e-3 of the
            // tensor's largest are therefore not compared; every other element agrees to 1e-4.
            var expected = Expected(fixture, "adamw." + parameter.Name);
            var gradient = Expected(fixture, "grad." + parameter.Name);
            double floor = 1e-3 * gradient.Max(Math.Abs);
            var actual = parameter.Value.ToArray();
            double worst = 0;
            for (int i = 0; i < actual.Length; i++)
                if (Math.Abs(gradient[i]) >= floor) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
            Assert.True(worst <= 1e-4, $"{parameter.Name} after 5 steps: max difference {worst:G3}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void KvCacheGreedyGenerationEqualsTheFixtureBatchedAndOneAtATime(string name)
    {
        var fixture = LoadFixture(name);
        var generation = fixture.Root.GetProperty("generation");
        var prompts = Rows(generation, "prompt_ids");
        var masks = Rows(generation, "prompt_mask");
        var expected = Rows(generation, "tokens");
        var unpadded = prompts.Select((p, b) => p.Where((_, t) => masks[b][t] == 1).ToArray()).ToArray();
        var options = new GenerationOptions { MaxNewTokens = generation.GetProperty("new_tokens").GetInt32(), EosTokenId = -1, PadTokenId = 0 };
        using var model = CausalLmRegistry.Load(fixture.Folder);

        var batched = Generator.Generate(model, unpadded, options);
        for (int b = 0; b < expected.Length; b++)
        {
            Assert.Equal(expected[b], batched[b].Ids);
            Assert.Equal(expected[b], Generator.Generate(model, [unpadded[b]], options)[0].Ids);
        }
    }
}
