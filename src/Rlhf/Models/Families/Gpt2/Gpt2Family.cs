// GPT-2 in the model registry (model_type "gpt2").
using System.Text.Json;

namespace Rlhf.Models.Gpt2;

internal sealed class Gpt2Family : IModelFamily
{
    public static Gpt2Family Instance { get; } = new();

    public IReadOnlyList<string> ModelTypes { get; } = [Gpt2Config.ModelTypeName];

    public IReadOnlyList<string> PresetNames => Gpt2Config.PresetNames;

    public CausalLmConfig Preset(string name) => Gpt2Config.Preset(name);

    public CausalLmConfig ReadConfig(string path, JsonElement root) => Gpt2Config.FromJson(path, root);

    public ICausalLm Create(CausalLmConfig config, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null) =>
        new Gpt2Model(Cast(config), heads);

    public ICausalLm CreateRandom(CausalLmConfig config, ulong seed, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null) =>
        Gpt2Model.CreateRandom(Cast(config), seed, heads);

    private static Gpt2Config Cast(CausalLmConfig config) => config as Gpt2Config
        ?? throw new ArgumentException($"A {config.ModelType} configuration cannot build a GPT-2 model.", nameof(config));
}
