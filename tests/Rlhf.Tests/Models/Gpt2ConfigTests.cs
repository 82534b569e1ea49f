// Tests for Gpt2Config: Hugging Face config.json parsing, saving, validation and presets.
using System.Text.Json;
using Rlhf.Models;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class Gpt2ConfigTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>The config.json of the Hub's openai-community/gpt2.</summary>
    private const string HubGpt2 = """
        {
          "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.1,
          "bos_token_id": 50256,
          "embd_pdrop": 0.1,
          "eos_token_id": 50256,
          "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05,
          "model_type": "gpt2",
          "n_ctx": 1024,
          "n_embd": 768,
          "n_head": 12,
          "n_layer": 12,
          "n_positions": 1024,
          "resid_pdrop": 0.1,
          "summary_activation": null,
          "summary_first_dropout": 0.1,
          "summary_proj_to_labels": true,
          "summary_type": "cls_index",
          "summary_use_proj": true,
          "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
          "vocab_size": 50257
        }
        """;

    private string WriteConfig(string json)
    {
        string path = folder.File("config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void LoadsHubGpt2Config()
    {
        var config = Gpt2Config.Load(WriteConfig(HubGpt2));
        Assert.Equal(new Gpt2Config(), config);
        Assert.Equal(Gpt2Config.Preset("gpt2"), config);
        Assert.Equal(64, config.HeadSize);
        Assert.Equal(1e-5f, config.LayerNormEpsilon);
        Assert.Null(config.PadTokenId);
        config.Validate();
    }

    [Fact]
    public void SaveThenLoadRoundTrips()
    {
        var config = new Gpt2Config
        {
            VocabSize = 100, ContextLength = 16, EmbeddingSize = 8, LayerCount = 2, HeadCount = 2,
            LayerNormEpsilon = 1e-6f, InitializerRange = 0.05f, ActivationFunction = "gelu_pytorch_tanh",
            BosTokenId = 1, EosTokenId = null, PadTokenId = 0,
        };
        string path = folder.File("config.json");
        config.Save(path);
        Assert.Equal(config, Gpt2Config.Load(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path));

        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        Assert.Equal("gpt2", root.GetProperty("model_type").GetString());
        Assert.Equal("GPT2LMHeadModel", root.GetProperty("architectures")[0].GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("n_inner").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("eos_token_id").ValueKind);
        Assert.Equal(0.1, root.GetProperty("resid_pdrop").GetDouble());
        Assert.Equal(1e-6, root.GetProperty("layer_norm_epsilon").GetDouble());
        Assert.Equal(0.05, root.GetProperty("initializer_range").GetDouble());
        Assert.Equal(16, root.GetProperty("n_positions").GetInt32());
    }

    [Theory]
    [InlineData("vocab_size")]
    [InlineData("n_positions")]
    [InlineData("n_embd")]
    [InlineData("n_layer")]
    [InlineData("n_head")]
    public void MissingRequiredKeyIsNamed(string key)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(HubGpt2)!.AsObject();
        node.Remove(key);
        string path = WriteConfig(node.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains($"'{key}'", error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Theory]
    [InlineData("n_embd", "\"768\"")]
    [InlineData("n_layer", "12.5")]
    [InlineData("vocab_size", "[50257]")]
    [InlineData("layer_norm_epsilon", "\"small\"")]
    [InlineData("activation_function", "3")]
    [InlineData("bos_token_id", "true")]
    [InlineData("model_type", "7")]
    public void WrongTypeIsNamed(string key, string value)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(HubGpt2)!.AsObject();
        node[key] = System.Text.Json.Nodes.JsonNode.Parse(value);
        string path = WriteConfig(node.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains($"'{key}'", error.Message);
    }

    [Fact]
    public void OtherModelTypeIsRejected()
    {
        string path = WriteConfig(HubGpt2.Replace("\"model_type\": \"gpt2\"", "\"model_type\": \"llama\""));
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.Contains("llama", error.Message);
        Assert.Contains("model_type", error.Message);
    }

    [Fact]
    public void MissingModelTypeAndHfAliasesAreAccepted()
    {
        string path = WriteConfig("""
            {"vocab_size": 10, "max_position_embeddings": 8, "hidden_size": 6, "num_hidden_layers": 1, "num_attention_heads": 3, "unknown": {"x": 1},
             "bos_token_id": 9, "eos_token_id": 9}
            """);
        var config = Gpt2Config.Load(path);
        Assert.Equal(new Gpt2Config { VocabSize = 10, ContextLength = 8, EmbeddingSize = 6, LayerCount = 1, HeadCount = 3, BosTokenId = 9, EosTokenId = 9 }, config);
        Assert.Equal(2, config.HeadSize);
    }

    [Fact]
    public void InvalidJsonNamesFile()
    {
        string path = WriteConfig("{\"n_embd\": ");
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("JSON", error.Message);
        Assert.Contains(folder.File("none.json"), Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(folder.File("none.json"))).Message);
    }

    [Fact]
    public void ValidateQuotesOffendingValues()
    {
        var error = Assert.Throws<ArgumentException>(() => new Gpt2Config { EmbeddingSize = 770, HeadCount = 12 }.Validate());
        Assert.Contains("n_embd (770)", error.Message);
        Assert.Contains("n_head (12)", error.Message);

        error = Assert.Throws<ArgumentException>(() => new Gpt2Config { LayerCount = 0 }.Validate());
        Assert.Contains("n_layer", error.Message);

        error = Assert.Throws<ArgumentException>(() => new Gpt2Config { ActivationFunction = "relu" }.Validate());
        Assert.Contains("'relu'", error.Message);
        Assert.Contains("gelu_new", error.Message);

        error = Assert.Throws<ArgumentException>(() => new Gpt2Config { VocabSize = 100 }.Validate());
        Assert.Contains("bos_token_id (50256)", error.Message);

        new Gpt2Config { ActivationFunction = "gelu_pytorch_tanh" }.Validate();
    }

    [Fact]
    public void LoadedConfigWithIndivisibleEmbeddingFailsValidation()
    {
        string path = WriteConfig(HubGpt2.Replace("\"n_embd\": 768", "\"n_embd\": 100"));
        var error = Assert.Throws<ModelFormatException>(() => Gpt2Config.Load(path));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains("n_embd (100)", error.Message);
    }

    [Theory]
    [InlineData("gpt2", 768, 12, 12)]
    [InlineData("gpt2-medium", 1024, 24, 16)]
    [InlineData("gpt2-large", 1280, 36, 20)]
    [InlineData("gpt2-xl", 1600, 48, 25)]
    public void PresetsMatchPublishedSizes(string name, int embedding, int layers, int heads)
    {
        var config = Gpt2Config.Preset(name);
        Assert.Equal((embedding, layers, heads, 50257, 1024), (config.EmbeddingSize, config.LayerCount, config.HeadCount, config.VocabSize, config.ContextLength));
        config.Validate();
    }

    [Fact]
    public void UnknownPresetListsKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => Gpt2Config.Preset("gpt3"));
        Assert.Contains("gpt3", error.Message);
        Assert.Contains("gpt2-medium", error.Message);
        Assert.Contains("gpt2-xl", error.Message);
    }
}
