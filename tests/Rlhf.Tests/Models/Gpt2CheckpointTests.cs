// Tests for Gpt2Checkpoint: Hub (unprefixed) and transformers (prefixed) names, ignored buffers, all-or-nothing loads.
using Rlhf.Models;
using Rlhf.Tensors;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class Gpt2CheckpointTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private static readonly (string Name, int[] Shape, bool Decay)[] Layout =
    [
        ("transformer.wte.weight", [5, 4], true),
        ("transformer.wpe.weight", [3, 4], true),
        ("transformer.h.0.ln_1.weight", [4], false),
        ("transformer.h.0.attn.c_attn.weight", [4, 12], true),
        ("transformer.h.0.attn.c_attn.bias", [12], false),
        ("transformer.ln_f.weight", [4], false),
    ];

    private static ParameterSet NewParameters(float fill)
    {
        var parameters = new ParameterSet(Layout);
        foreach (var p in parameters.Parameters) p.Value.Span.Fill(fill);
        return parameters;
    }

    private static Tensor Ramp(int[] shape, float start)
    {
        var tensor = Tensor.Zeros(shape);
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++) span[i] = start + i;
        return tensor;
    }

    /// <summary>Tensors named like the parameters (prefix optional), each a ramp starting at 100·index.</summary>
    private static List<(string Name, Tensor Tensor)> SourceTensors(bool withPrefix) =>
        Layout.Select((entry, index) => (withPrefix ? entry.Name : entry.Name["transformer.".Length..], Ramp(entry.Shape, 100 * index))).ToList();

    private static void AssertHoldsRamps(ParameterSet parameters)
    {
        for (int index = 0; index < Layout.Length; index++)
            Assert.Equal(Ramp(Layout[index].Shape, 100 * index).ToArray(), parameters[Layout[index].Name].Value.ToArray());
    }

    private static void AssertFilled(ParameterSet parameters, float fill)
    {
        foreach (var p in parameters.Parameters) Assert.All(p.Value.ToArray(), v => Assert.Equal(fill, v));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LoadsWithAndWithoutTransformerPrefix(bool withPrefix)
    {
        string path = folder.File("model.safetensors");
        var tensors = SourceTensors(withPrefix);
        // Buffers that Hub files carry are ignored; a saved copy of the tied head is accepted when it equals wte.
        tensors.Add((withPrefix ? "transformer.h.0.attn.bias" : "h.0.attn.bias", Tensor.Zeros(1, 1, 3, 3)));
        tensors.Add((withPrefix ? "transformer.h.0.attn.masked_bias" : "h.0.attn.masked_bias", Tensor.Zeros()));
        tensors.Add(("lm_head.weight", Ramp([5, 4], 0)));
        SafeTensors.Write(path, tensors);

        using var parameters = NewParameters(-1f);
        Gpt2Checkpoint.LoadWeights(path, parameters);
        AssertHoldsRamps(parameters);
    }

    [Fact]
    public void AnLmHeadThatDiffersFromTheTiedEmbeddingIsRejected()
    {
        string path = folder.File("model.safetensors");
        var tensors = SourceTensors(true);
        tensors.Add(("lm_head.weight", Tensor.Zeros(5, 4)));
        SafeTensors.Write(path, tensors);

        using var parameters = NewParameters(-1f);
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Checkpoint.LoadWeights(path, parameters));
        Assert.Contains("'lm_head.weight'", error.Message);
        Assert.Contains("tie_word_embeddings", error.Message);
        AssertFilled(parameters, -1f);
    }

    [Fact]
    public void SaveThenLoadRoundTripsWithPrefixAndPtFormat()
    {
        string path = folder.File("model.safetensors");
        using var source = NewParameters(0f);
        Gpt2Checkpoint.LoadWeights(WriteSource(SourceTensors(true)), source);
        Gpt2Checkpoint.SaveWeights(path, source);

        using (var file = SafeTensors.Open(path))
        {
            Assert.Equal("pt", file.Metadata["format"]);
            Assert.Equal(Layout.Select(l => l.Name).Order(), file.Tensors.Keys.Order());
            Assert.All(file.Tensors.Values, t => Assert.Equal("F32", t.DType));
        }

        using var loaded = NewParameters(7f);
        Gpt2Checkpoint.LoadWeights(path, loaded);
        AssertHoldsRamps(loaded);
    }

    private string WriteSource(List<(string Name, Tensor Tensor)> tensors)
    {
        string path = folder.File("source.safetensors");
        SafeTensors.Write(path, tensors);
        return path;
    }

    [Fact]
    public void MissingTensorIsNamedAndParametersAreUnchanged()
    {
        var tensors = SourceTensors(false);
        tensors.RemoveAll(t => t.Name == "ln_f.weight");
        string path = WriteSource(tensors);
        using var parameters = NewParameters(3f);
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Checkpoint.LoadWeights(path, parameters));
        Assert.Contains(path, error.Message);
        Assert.Contains("transformer.ln_f.weight", error.Message);
        AssertFilled(parameters, 3f);
    }

    [Fact]
    public void MisShapedTensorIsNamedWithBothShapesAndParametersAreUnchanged()
    {
        var tensors = SourceTensors(false);
        // Last tensor in the file is wrong, so a loader that copied as it went would already have written the others.
        int index = tensors.FindIndex(t => t.Name == "ln_f.weight");
        tensors[index] = ("ln_f.weight", Tensor.Zeros(5));
        string path = WriteSource(tensors);
        using var parameters = NewParameters(3f);
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Checkpoint.LoadWeights(path, parameters));
        Assert.Contains(path, error.Message);
        Assert.Contains("'ln_f.weight'", error.Message);
        Assert.Contains("[5]", error.Message);
        Assert.Contains("[4]", error.Message);
        AssertFilled(parameters, 3f);
    }

    [Fact]
    public void TransposedConv1DWeightIsRejected()
    {
        var tensors = SourceTensors(true);
        int index = tensors.FindIndex(t => t.Name == "transformer.h.0.attn.c_attn.weight");
        tensors[index] = (tensors[index].Name, Tensor.Zeros(12, 4));
        string path = WriteSource(tensors);
        using var parameters = NewParameters(3f);
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Checkpoint.LoadWeights(path, parameters));
        Assert.Contains("[12, 4]", error.Message);
        Assert.Contains("[4, 12]", error.Message);
        AssertFilled(parameters, 3f);
    }

    [Fact]
    public void UnexpectedTensorIsReported()
    {
        var tensors = SourceTensors(false);
        tensors.Add(("h.1.ln_1.weight", Tensor.Zeros(4)));
        string path = WriteSource(tensors);
        using var parameters = NewParameters(3f);
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Checkpoint.LoadWeights(path, parameters));
        Assert.Contains("'h.1.ln_1.weight'", error.Message);
        Assert.Contains("config.json", error.Message);
        AssertFilled(parameters, 3f);
    }

    [Fact]
    public void LoadsHalfPrecisionCheckpoints()
    {
        // Hand-built BF16 file for a one-parameter set: 1.0 and -0.5.
        string path = folder.File("bf16.safetensors");
        byte[] data = [0x80, 0x3F, 0x00, 0xBF];
        File.WriteAllBytes(path, RawSafeTensors.Build("""{"ln_f.weight":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}""", data));
        using var parameters = new ParameterSet([("transformer.ln_f.weight", new[] { 2 }, false)]);
        Gpt2Checkpoint.LoadWeights(path, parameters);
        Assert.Equal([1f, -0.5f], parameters["transformer.ln_f.weight"].Value.ToArray());
    }
}
