// Checkpoints as the Hub has them: sharded folders (model.safetensors.index.json) read and written with transformers'
// shard names, BF16 written on request, and the bad inputs named (missing shard, a tensor in two shards, a shape that
// disagrees with config.json, an unknown model_type, contradictory keys) with nothing changed or written.
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Models.Llama;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class CheckpointShardTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private string CopyFixture(string name)
    {
        string target = Path.Combine(folder.Path, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Fixtures.Path(name))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    private static float[] All(ICausalLm model) => model.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();

    [Fact]
    public void ShardsAreWrittenWithTransformersNamesAndReadBackExactly()
    {
        using var model = CausalLmRegistry.Load(Fixtures.Path("llama_gqa_sharded"));
        string output = Path.Combine(folder.Path, "out");
        model.WeightsFormat = new CheckpointFormat(MaxShardBytes: 30_000);
        model.Save(output);
        var files = Directory.GetFiles(output).Select(Path.GetFileName).Order().ToArray();
        Assert.DoesNotContain("model.safetensors", files);
        Assert.Contains("model.safetensors.index.json", files);
        var shards = files.Where(f => f!.StartsWith("model-", StringComparison.Ordinal)).ToArray();
        Assert.True(shards.Length >= 3);
        Assert.All(shards, s => Assert.Matches($@"^model-\d{{5}}-of-{shards.Length:D5}\.safetensors$", s));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")))!;
        Assert.Equal(model.Parameters.ParameterCount * 4, index["metadata"]!["total_size"]!.GetValue<long>());
        Assert.Equal(model.Parameters.Parameters.Select(p => p.Name).Order(), index["weight_map"]!.AsObject().Select(e => e.Key).Order());

        using var again = CausalLmRegistry.Load(output);
        Assert.Equal(All(model), All(again));

        // Saving the same folder unsharded removes the index and the shards (transformers would prefer neither).
        model.WeightsFormat = CheckpointFormat.Default;
        model.Save(output);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(output).Select(f => Path.GetFileName(f)).Order().ToArray());
    }

    [Fact]
    public void Bf16IsWrittenOnRequestAndReadBackToTheNearestBf16()
    {
        using var model = CausalLmRegistry.Load(Fixtures.Path("llama3_tied"));
        string output = Path.Combine(folder.Path, "bf16");
        model.WeightsFormat = new CheckpointFormat(BFloat16: true);
        model.Save(output);
        using (var file = SafeTensors.Open(Path.Combine(output, "model.safetensors")))
            Assert.All(file.Tensors.Values, t => Assert.Equal("BF16", t.DType));
        Assert.Equal("bfloat16", JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!["torch_dtype"]!.GetValue<string>());
        using var again = CausalLmRegistry.Load(output);
        var original = All(model);
        var rounded = All(again);
        for (int i = 0; i < original.Length; i++)
            Assert.True(Math.Abs(original[i] - rounded[i]) <= Math.Abs(original[i]) * (1.0 / 256), $"value {i}: {original[i]} → {rounded[i]}");
    }

    [Fact]
    public void AnIndexNamingAMissingShardNamesTheShardAndTensor()
    {
        string dir = CopyFixture("llama_gqa_sharded");
        File.Delete(Path.Combine(dir, "model-00002-of-00003.safetensors"));
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.Load(dir));
        Assert.Contains("model.safetensors.index.json", error.Message);
        Assert.Contains("model-00002-of-00003.safetensors", error.Message);
        Assert.Contains("'model.", error.Message);
    }

    [Fact]
    public void ATensorInTwoShardsIsNamed()
    {
        string dir = CopyFixture("llama_gqa_sharded");
        // Shard 3 also gets a copy of a tensor that lives in shard 1.
        using (var first = SafeTensors.Open(Path.Combine(dir, "model-00001-of-00003.safetensors")))
        using (var third = SafeTensors.Open(Path.Combine(dir, "model-00003-of-00003.safetensors")))
        {
            var tensors = third.Tensors.Keys.Select(n => (n, Read(third, n))).ToList();
            tensors.Add(("model.embed_tokens.weight", Read(first, "model.embed_tokens.weight")));
            third.Dispose();
            SafeTensors.Write(Path.Combine(dir, "model-00003-of-00003.safetensors"), tensors);
        }
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.Load(dir));
        Assert.Contains("'model.embed_tokens.weight'", error.Message);
        Assert.Contains("two shards", error.Message);
    }

    private static Rlhf.Tensors.Tensor Read(SafeTensorsFile file, string name)
    {
        var tensor = Rlhf.Tensors.Tensor.Zeros(file.Tensors[name].Shape);
        file.ReadInto(name, tensor.Span);
        return tensor;
    }

    [Fact]
    public void AShapeThatDisagreesWithConfigNamesTheShardAndTensor()
    {
        string dir = CopyFixture("llama_gqa_sharded");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config["intermediate_size"] = 40;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.Load(dir));
        Assert.Contains("model-0000", error.Message);
        Assert.Contains("mlp.", error.Message);
        Assert.Contains("[44, 32]", error.Message);
    }

    [Fact]
    public void AnUnknownModelTypeNamesTheSupportedOnes()
    {
        string dir = CopyFixture("llama3_tied");
        File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"llama\"", "\"falcon\""));
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.Load(dir));
        Assert.Contains("'falcon'", error.Message);
        foreach (string type in new[] { "gpt2", "llama", "qwen2", "mistral" }) Assert.Contains(type, error.Message);
    }

    [Theory]
    [InlineData("num_key_value_heads", "3", "num_key_value_heads")]
    [InlineData("hidden_size", "30", "hidden_size")]
    [InlineData("intermediate_size", null, "intermediate_size")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act")]
    [InlineData("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", "rope_scaling")]
    public void AMissingOrContradictoryKeyIsNamed(string key, string? value, string named)
    {
        string path = Path.Combine(folder.Path, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Path("llama_gqa_sharded"), "config.json")))!.AsObject();
        if (value is null) config.Remove(key);
        else config[key] = JsonNode.Parse(value);
        File.WriteAllText(path, config.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.LoadConfig(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void ATiedHeadThatDiffersFromTheEmbeddingIsRejectedAndAnUntiedOneIsRead()
    {
        using var tied = CausalLmRegistry.Load(Fixtures.Path("llama3_tied"));
        var embedding = tied.Parameters["model.embed_tokens.weight"].Value;
        string dir = Path.Combine(folder.Path, "tied");
        tied.Save(dir);
        var tensors = tied.Parameters.Parameters.Select(p => (p.Name, p.Value)).ToList();
        tensors.Add(("lm_head.weight", Rlhf.Tensors.Tensor.Zeros(embedding.Shape)));
        SafeTensors.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.Load(dir));
        Assert.Contains("'lm_head.weight'", error.Message);

        // The same file with tie_word_embeddings false: lm_head.weight is the head, not the embedding.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config["tie_word_embeddings"] = false;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        using var untied = CausalLmRegistry.Load(dir);
        Assert.Equal("lm_head.weight", untied.LmHeadWeightName);
        Assert.All(untied.Parameters["lm_head.weight"].Value.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData("smollm2-135m", 134_515_008L)]
    [InlineData("qwen2.5-0.5b", 494_032_768L)]
    public void PresetsHaveThePublishedParameterCounts(string preset, long parameters)
    {
        var config = Assert.IsType<LlamaConfig>(CausalLmRegistry.Preset(preset));
        long count = LlamaModel.Layout(config).Sum(l => l.Shape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(parameters, count);
    }
}
