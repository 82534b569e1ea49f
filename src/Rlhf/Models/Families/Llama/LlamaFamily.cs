// The Llama family in the model registry (model_type "llama", "qwen2", "mistral").
using System.Text.Json;

namespace Rlhf.Models.Llama;

internal sealed class LlamaFamily : IModelFamily
{
    public static LlamaFamily Instance { get; } = new();

    public IReadOnlyList<string> ModelTypes => LlamaConfig.ModelTypes;

    public IReadOnlyList<string> PresetNames => LlamaConfig.PresetNames;

    public CausalLmConfig Preset(string name) => LlamaConfig.Preset(name);

    public CausalLmConfig ReadConfig(string path, JsonElement root) => LlamaConfig.FromJson(path, root);

    public ICausalLm Create(CausalLmConfig config, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null) =>
        new LlamaModel(Cast(config), heads);

    public ICausalLm CreateRandom(CausalLmConfig config, ulong seed, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null) =>
        LlamaModel.CreateRandom(Cast(config), seed, heads);

    private static LlamaConfig Cast(CausalLmConfig config) => config as LlamaConfig
        ?? throw new ArgumentException($"A {config.ModelType} configuration cannot build a Llama-family model.", nameof(config));
}
