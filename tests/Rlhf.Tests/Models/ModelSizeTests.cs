// config.json values out of range, and models too large for memory, are errors naming the file before anything is allocated.
using Rlhf.Models;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class ModelSizeTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private string Write(string vocab = "64", string positions = "16", string embd = "8", string layers = "1", string heads = "2")
    {
        string path = folder.File("config.json");
        File.WriteAllText(path, $$"""
            {"model_type": "gpt2", "vocab_size": {{vocab}}, "n_positions": {{positions}}, "n_embd": {{embd}}, "n_layer": {{layers}}, "n_head": {{heads}},
             "bos_token_id": 0, "eos_token_id": 0}
            """);
        return path;
    }

    [Theory]
    [InlineData("n_layer", "1000000000", "n_layer must be at most 4,096, got 1,000,000,000")]
    [InlineData("vocab_size", "2147483647", "vocab_size must be at most 4,194,304")]
    [InlineData("n_positions", "2147483647", "n_positions must be at most 4,194,304")]
    [InlineData("n_embd", "1048576", "n_embd must be at most 65,536")]
    [InlineData("n_head", "0", "n_head must be positive, got 0")]
    public void OutOfRangeValuesNameFileAndKey(string key, string value, string expected)
    {
        string path = key switch
        {
            "n_layer" => Write(layers: value),
            "vocab_size" => Write(vocab: value),
            "n_positions" => Write(positions: value),
            "n_embd" => Write(embd: value),
            _ => Write(heads: value),
        };
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void ModelTooLargeForMemorySaysHowMuchItNeeds()
    {
        // 4,096 layers of width 65,536: about 2.1e14 parameters, far beyond any machine.
        string path = Write(embd: "65536", layers: "4096", heads: "64");
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.Contains("parameters and needs", error.Message);
        Assert.Contains("TiB of memory to load", error.Message);
        Assert.Contains("is available", error.Message);
    }

    [Fact]
    public void ParameterCountMatchesTheLayout()
    {
        var config = new Gpt2Config { VocabSize = 50, ContextLength = 12, EmbeddingSize = 8, LayerCount = 3, HeadCount = 2 };
        long fromLayout = Gpt2Model.Layout(config).Sum(p => p.Shape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(fromLayout, (long)config.ParameterCount);
        Assert.Null(ModelMemory.Problem(config.ParameterCount));
    }

    [Fact]
    public void LlamaParameterCountMatchesTheLayout()
    {
        foreach (var config in new[]
        {
            new Rlhf.Models.Llama.LlamaConfig(),
            new Rlhf.Models.Llama.LlamaConfig { TieWordEmbeddings = false, MlpBias = true, AttentionBias = true, KeyValueHeadCount = 2 },
        })
        {
            long fromLayout = Rlhf.Models.Llama.LlamaModel.Layout(config).Sum(p => p.Shape.Aggregate(1L, (a, b) => a * b));
            Assert.Equal(fromLayout, (long)config.ParameterCount);
        }
    }

    [Fact]
    public void AConfigLargerThanItsCheckpointFailsBeforeAllocating()
    {
        string dir = Path.Combine(folder.Path, "model");
        Rlhf.Tests.Support.TinyModels.Create(dir, layers: 1, channels: 16, context: 16);
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layer\": 1", "\"n_layer\": 400"));
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.Load(dir));
        Assert.Equal(Path.Combine(dir, "model.safetensors"), error.FilePath);
        Assert.Contains("config.json does not match this checkpoint", error.Message);
    }
}
