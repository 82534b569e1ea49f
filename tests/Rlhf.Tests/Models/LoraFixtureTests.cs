// PEFT-layout adapter folders written by the independent PyTorch script tools/reference/peft_lora_fixture.py on the
// gpt2_tiny and llama3_tied fixtures: our loader reproduces its adapted logits (≤ 1e-4 at real tokens, as the base
// fixtures' logits) and our merge its merged weights (≤ 1e-6).
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class LoraFixtureTests
{
    public static readonly TheoryData<string> Bases = new() { "gpt2_tiny", "llama3_tied" };

    private static CausalLmBatch Batch(string baseFolder) =>
        FixtureLogits.Batch(JsonDocument.Parse(File.ReadAllText(Path.Combine(baseFolder, "fixture.json"))).RootElement);

    private static float[] Expected(string folder, string name)
    {
        using var file = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var values = new float[file.Tensors[name].ElementCount];
        file.ReadInto(name, values);
        return values;
    }

    private static float[] Logits(ICausalLm model, CausalLmBatch batch) => FixtureLogits.Compute(model, batch);

    private static double WorstAtRealTokens(float[] expected, float[] actual, CausalLmBatch batch, int vocab)
    {
        double worst = 0;
        for (int n = 0; n < batch.TokenIds.Length; n++)
        {
            if (batch.AttentionMask[n] == 0) continue; // padding queries are implementation-defined
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(expected[n * vocab + v] - actual[n * vocab + v]));
        }
        return worst;
    }

    [Theory]
    [MemberData(nameof(Bases))]
    public void TheLoadedAdapterReproducesThePyTorchLogits(string name)
    {
        string baseFolder = Fixtures.Path(name), adapterFolder = Fixtures.Path("lora_" + name);
        var batch = Batch(baseFolder);
        using var model = CausalLmRegistry.Load(baseFolder);
        var expected = Expected(adapterFolder, "logits");
        Assert.True(WorstAtRealTokens(expected, Logits(model, batch), batch, model.Config.VocabSize) > 1e-2, "the adapters must change the logits");
        var adapters = PeftAdapterFolder.Attach(model, baseFolder, adapterFolder);
        double worst = WorstAtRealTokens(expected, Logits(model, batch), batch, model.Config.VocabSize);
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:G3} > 1e-4");
        Assert.Equal(name == "gpt2_tiny" ? 8 : 6, adapters.Targets.Count);
    }

    [Theory]
    [MemberData(nameof(Bases))]
    public void TheMergeReproducesThePyTorchMergedWeights(string name)
    {
        string baseFolder = Fixtures.Path(name), adapterFolder = Fixtures.Path("lora_" + name);
        using var model = CausalLmRegistry.Load(baseFolder);
        var adapters = PeftAdapterFolder.Attach(model, baseFolder, adapterFolder);
        var weights = adapters.Targets.Select(t => t.WeightName).ToArray();
        LoraMerge.MergeAndUnload(adapters);
        foreach (var weight in weights)
        {
            var expected = Expected(adapterFolder, "merged." + weight);
            var actual = model.Parameters[weight].Value.ToArray();
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= 1e-6, $"{weight}: max difference {worst:G3} > 1e-6");
        }
        var batch = Batch(baseFolder);
        double logits = WorstAtRealTokens(Expected(adapterFolder, "logits"), Logits(model, batch), batch, model.Config.VocabSize);
        Assert.True(logits <= 1e-4, $"merged model: max |logit difference| {logits:G3} > 1e-4");
    }
}
