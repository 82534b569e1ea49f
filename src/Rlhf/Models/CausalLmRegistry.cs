// The model families by config.json's model_type: reading configs, building, loading and presets for any of them.
using Rlhf.Models.Gpt2;
using Rlhf.Models.Llama;
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>One family of causal LMs (a folder under Models/Families).</summary>
internal interface IModelFamily
{
    /// <summary>The <c>model_type</c> values this family reads.</summary>
    IReadOnlyList<string> ModelTypes { get; }

    /// <summary>Named sizes for <c>rlhf init --preset</c>.</summary>
    IReadOnlyList<string> PresetNames { get; }

    CausalLmConfig Preset(string name);

    /// <summary>The family's keys of a parsed config.json whose model_type is one of <see cref="ModelTypes"/>.</summary>
    CausalLmConfig ReadConfig(string path, System.Text.Json.JsonElement root);

    /// <summary>A model with uninitialised weights (to be loaded), plus <paramref name="heads"/> in the same set.</summary>
    ICausalLm Create(CausalLmConfig config, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null);

    /// <summary>A model initialised as transformers initialises the family.</summary>
    ICausalLm CreateRandom(CausalLmConfig config, ulong seed, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null);
}

internal static class CausalLmRegistry
{
    /// <summary>Every family, in the order their presets and model types are listed.</summary>
    public static IReadOnlyList<IModelFamily> Families { get; } = [Gpt2Family.Instance, LlamaFamily.Instance];

    /// <summary>Every supported <c>model_type</c>.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = Families.SelectMany(f => f.ModelTypes).ToArray();

    /// <summary>Every family's presets.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = Families.SelectMany(f => f.PresetNames).ToArray();

    /// <summary>The family that reads <paramref name="modelType"/>, or null.</summary>
    public static IModelFamily? Find(string modelType) => Families.FirstOrDefault(f => f.ModelTypes.Contains(modelType));

    private static IModelFamily For(CausalLmConfig config) => Find(config.ModelType)
        ?? throw new ArgumentException($"No model family reads model_type '{config.ModelType}'.");

    /// <summary>
    /// Reads a config.json of any supported family. A missing <c>model_type</c> means GPT-2 (older GPT-2 folders
    /// lack it); an unknown one names the supported ones. Throws <see cref="ModelFormatException"/> naming the file and key.
    /// </summary>
    public static CausalLmConfig LoadConfig(string path)
    {
        using var document = ConfigJson.Parse(path);
        var root = document.RootElement;
        string modelType = ConfigJson.ModelType(path, root) ?? Gpt2Config.ModelTypeName;
        var family = Find(modelType) ?? throw new ModelFormatException(path,
            $"key 'model_type' is '{modelType}', which is not supported; supported model types: {string.Join(", ", ModelTypes)}.");
        return family.ReadConfig(path, root);
    }

    /// <summary>A preset of any family by name (e.g. "gpt2").</summary>
    public static CausalLmConfig Preset(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant();
        var family = Families.FirstOrDefault(f => f.PresetNames.Contains(key))
            ?? throw new ArgumentException($"Unknown preset '{name}'. Known presets: {string.Join(", ", PresetNames)}.", nameof(name));
        return family.Preset(key);
    }

    public static ICausalLm Create(CausalLmConfig config, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null) =>
        For(config).Create(config, heads);

    public static ICausalLm CreateRandom(CausalLmConfig config, ulong seed, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null) =>
        For(config).CreateRandom(config, seed, heads);

    /// <summary>
    /// Loads config.json and the weights from a Hugging Face style folder of any family. With <paramref name="heads"/>,
    /// those parameters are read when the folder has them, else initialised N(0, initializer_range) from
    /// <paramref name="headSeed"/> (a fresh head on a pretrained backbone); tensors of other heads are ignored.
    /// </summary>
    /// <param name="configOverride">Use this configuration (same shapes) instead of the folder's, e.g. to turn a causal LM
    /// into a sequence classifier.</param>
    public static ICausalLm Load(string directory, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null, ulong headSeed = 0,
        Func<CausalLmConfig, CausalLmConfig>? configOverride = null)
    {
        var config = LoadConfig(RequireFiles(directory));
        ModelMemory.RequireFits(directory, config);
        var headList = heads?.ToList() ?? [];
        return FillFromFolder(Create(configOverride?.Invoke(config) ?? config, headList), directory, headList, headSeed);
    }

    /// <summary>The folder's config.json path, after checking that it and the weights exist.</summary>
    public static string RequireFiles(string directory)
    {
        string configPath = Path.Combine(directory, ICausalLm.ConfigFileName);
        string weightsPath = Path.Combine(directory, ICausalLm.WeightsFileName);
        if (!File.Exists(configPath)) throw new ModelFormatException(configPath, "The model folder has no config.json.");
        if (!CheckpointReader.Exists(directory) && Lora.PeftAdapterFolder.IsAdapterFolder(directory))
            throw new ModelFormatException(weightsPath, $"{directory} is a LoRA adapter folder, not a model; load it onto its base with --model <base> --adapter {directory}.");
        if (!CheckpointReader.Exists(directory))
            throw new ModelFormatException(weightsPath, $"The model folder has no model.safetensors (nor a sharded {CheckpointReader.IndexFileName}).");
        return configPath;
    }

    /// <summary>Reads the folder's weights into <paramref name="model"/> (fresh heads where absent); disposes it on failure.</summary>
    public static TModel FillFromFolder<TModel>(TModel model, string directory, IReadOnlyList<(string Name, int[] Shape, bool Decay)> heads, ulong headSeed)
        where TModel : ICausalLm
    {
        try
        {
            var headNames = heads.Select(h => h.Name).ToHashSet();
            var absent = model.LoadWeights(directory, headNames, name => !model.IsOwnParameter(name) && !headNames.Contains(name));
            var rng = new Rng(headSeed);
            foreach (string name in absent) rng.FillNormal(model.Parameters[name].Value.Span, 0, model.Config.InitializerRange);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }
}
