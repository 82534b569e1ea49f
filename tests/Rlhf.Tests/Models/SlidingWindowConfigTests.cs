// Sliding-window configs (Mistral 7B v0.1's sliding_window 4096, Qwen2's use_sliding_window): the window masks nothing
// while a sequence fits in it, so they load with the context capped at the window — the same logits as without it —
// longer sequences are refused, and config.json is written back with the file's keys.
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Models.Llama;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class SlidingWindowConfigTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>A copy of the qwen2 fixture folder with <paramref name="edit"/> applied to its config.json.</summary>
    private string Folder(string name, Action<JsonObject> edit)
    {
        string source = Fixtures.Path("qwen2_bf16"), folder = dir.Sub(name);
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        return folder;
    }

    private static CausalLmBatch Tokens(int count) => new(1, count, Enumerable.Range(0, count).Select(i => 3 + i * 7 % 90).ToArray());

    [Fact]
    public void Qwen2WithASlidingWindowLoadsCappedAtTheWindowWithTheSameLogits()
    {
        string plain = Folder("plain", _ => { });
        string windowed = Folder("windowed", c => { c["use_sliding_window"] = true; c["sliding_window"] = 8; c["max_window_layers"] = 1; });
        using var reference = CausalLmRegistry.Load(plain);
        using var model = CausalLmRegistry.Load(windowed);
        var config = Assert.IsType<LlamaConfig>(model.Config);
        Assert.Equal(8, config.ContextLength);
        Assert.Equal(64, config.MaxPositionEmbeddings);
        Assert.Equal(FixtureLogits.Compute(reference, Tokens(8)), FixtureLogits.Compute(model, Tokens(8)));
        var error = Assert.ThrowsAny<ArgumentException>(() => FixtureLogits.Compute(model, Tokens(9)));
        Assert.Contains("8", error.Message);

        string saved = dir.Sub("saved.json");
        config.Save(saved);
        var json = JsonDocument.Parse(File.ReadAllText(saved)).RootElement;
        Assert.Equal(64, json.GetProperty("max_position_embeddings").GetInt32());
        Assert.Equal(8, json.GetProperty("sliding_window").GetInt32());
        Assert.Equal(1, json.GetProperty("max_window_layers").GetInt32());
        Assert.True(json.GetProperty("use_sliding_window").GetBoolean());
        Assert.Equal(config, CausalLmRegistry.LoadConfig(saved));
    }

    [Fact]
    public void MistralsSlidingWindowIsKeptAndAWindowAsLongAsTheContextCapsNothing()
    {
        string folder = Folder("mistral", c =>
        {
            c["model_type"] = "mistral";
            c["architectures"] = new JsonArray("MistralForCausalLM");
            c["sliding_window"] = 4096;
            c.Remove("use_sliding_window");
            c.Remove("max_window_layers");
        });
        var config = Assert.IsType<LlamaConfig>(CausalLmRegistry.LoadConfig(Path.Combine(folder, "config.json")));
        Assert.Equal(64, config.ContextLength);
        Assert.Null(config.MaxPositionEmbeddings);
        Assert.Equal(new SlidingWindowAttention(4096, null), config.SlidingWindow);
        string saved = dir.Sub("mistral.json");
        config.Save(saved);
        var json = JsonDocument.Parse(File.ReadAllText(saved)).RootElement;
        Assert.Equal(4096, json.GetProperty("sliding_window").GetInt32());
        Assert.Equal(64, json.GetProperty("max_position_embeddings").GetInt32());
        Assert.False(json.TryGetProperty("use_sliding_window", out _));
    }

    [Theory]
    [InlineData("qwen2", true, null, "key 'use_sliding_window' is true but 'sliding_window' is missing or null")]
    [InlineData("mistral", false, 0, "key 'sliding_window' must be positive, got 0")]
    public void ABrokenWindowNamesItsKey(string type, bool use, int? size, string message)
    {
        string folder = Folder($"bad-{type}", c =>
        {
            c["model_type"] = type;
            c["use_sliding_window"] = use;
            c["sliding_window"] = size;
        });
        var error = Assert.Throws<ModelFormatException>(() => CausalLmRegistry.LoadConfig(Path.Combine(folder, "config.json")));
        Assert.Contains(message, error.Message);
    }
}
