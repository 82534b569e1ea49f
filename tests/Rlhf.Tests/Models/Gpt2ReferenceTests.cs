// Our GPT-2 against an independent PyTorch implementation (tools/reference/gpt2_fixture.py):
// logits, loss, every parameter gradient, and five AdamW steps with gradient clipping.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Xunit;

namespace Rlhf.Tests.Models;

public unsafe class Gpt2ReferenceTests
{
    private static readonly string Folder = Fixtures.Path("gpt2_tiny");

    private sealed record Fixture(CausalLmBatch Batch, JsonElement Root);

    private static Fixture LoadFixture()
    {
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "fixture.json"))).RootElement;
        int[][] Rows(string name) => root.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        var ids = Rows("input_ids");
        var mask = Rows("attention_mask");
        var labels = Rows("labels");
        int b = ids.Length, t = ids[0].Length;
        var batch = new CausalLmBatch(b, t, ids.SelectMany(r => r).ToArray(),
            mask.SelectMany(r => r).Select(x => (float)x).ToArray(),
            labels.SelectMany(r => r).Select(x => x != -100).ToArray());
        return new Fixture(batch, root);
    }

    private static float[] Expected(string name)
    {
        using var file = SafeTensors.Open(Path.Combine(Folder, "expected.safetensors"));
        var values = new float[file.Tensors[name].ElementCount];
        file.ReadInto(name, values);
        return values;
    }

    [Fact]
    public void LogitsMatchPyTorchAtRealTokens()
    {
        var fixture = LoadFixture();
        var batch = fixture.Batch;
        using var model = Gpt2Model.Load(Folder);
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        var embedding = model.TokenEmbedding(ops, trainable: false);
        var hidden = model.Forward(ops, batch.TokenIds, batch.PositionIds, batch.KeyMask(arena), batch.BatchSize, batch.SequenceLength, trainable: false);
        int rows = batch.TokenIds.Length, channels = model.Config.EmbeddingSize, vocab = model.Config.VocabSize;
        var logits = new float[rows * vocab];
        fixed (float* l = logits)
            Gemm.Sgemm(false, true, rows, vocab, channels, 1f, hidden.Value.Pointer, channels, embedding.Value.Pointer, channels, 0f, l, vocab);
        var expected = Expected("logits");
        double worst = 0;
        for (int n = 0; n < rows; n++)
        {
            if (batch.AttentionMask[n] == 0) continue; // padding queries are implementation-defined
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(expected[n * vocab + v] - logits[n * vocab + v]));
        }
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:G3} > 1e-4");
    }

    [Fact]
    public void LossAndEveryGradientMatchPyTorch()
    {
        var fixture = LoadFixture();
        using var model = Gpt2Model.Load(Folder);
        using var step = new LanguageModelStep(model, new AdamWOptions());
        float loss = step.Accumulate(fixture.Batch);
        Assert.Equal(fixture.Root.GetProperty("loss").GetDouble(), loss, 1e-5);
        foreach (var parameter in model.Parameters.Parameters)
        {
            var expected = Expected("grad." + parameter.Name);
            var actual = parameter.Gradient.ToArray();
            double scale = expected.Max(Math.Abs);
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= 1e-3 * scale, $"{parameter.Name}: max |grad difference| {worst:G3} > 1e-3 × {scale:G3}");
        }
    }

    [Fact]
    public void FiveClippedAdamWStepsMatchPyTorch()
    {
        var fixture = LoadFixture();
        var adam = fixture.Root.GetProperty("adamw");
        var options = new AdamWOptions((float)adam.GetProperty("beta1").GetDouble(), (float)adam.GetProperty("beta2").GetDouble(),
            (float)adam.GetProperty("eps").GetDouble(), (float)adam.GetProperty("weight_decay").GetDouble());
        float lr = (float)adam.GetProperty("lr").GetDouble();
        double maxNorm = adam.GetProperty("max_grad_norm").GetDouble();
        var expectedLosses = adam.GetProperty("adamw_losses").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var expectedNorms = adam.GetProperty("grad_norms").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var decayed = adam.GetProperty("decay_param_names").EnumerateArray().Select(x => x.GetString()).ToHashSet();

        using var model = Gpt2Model.Load(Folder);
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
            var expected = Expected("adamw." + parameter.Name);
            double worst = expected.Zip(parameter.Value.ToArray(), (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= 1e-4, $"{parameter.Name} after 5 steps: max difference {worst:G3}");
        }
    }
}
