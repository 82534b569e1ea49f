// PEFT's adapter folder (huggingface/peft, PeftModel.save_pretrained): adapter_config.json and adapter_model.safetensors
// with keys base_model.model.<module path>.lora_A.weight [r, in] and .lora_B.weight [out, r]; modules_to_save heads as
// base_model.model.<name> (older PEFT wrote <module>.modules_to_save.<rest>; both are read).
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Tensors;

namespace Rlhf.Models.Lora;

/// <summary>Reads and writes PEFT LoRA adapter folders.</summary>
internal static class PeftAdapterFolder
{
    public const string ConfigFileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";
    public const string KeyPrefix = "base_model.model.";
    private const string DropoutDrawsKey = "rlhf_lora_dropout_draws";

    /// <summary>True when the folder holds adapter_config.json.</summary>
    public static bool IsAdapterFolder(string directory) => File.Exists(Path.Combine(directory, ConfigFileName));

    /// <summary>
    /// Writes adapter_model.safetensors (the adapters, then the trained heads <paramref name="include"/> keeps, as
    /// modules_to_save) and adapter_config.json, each atomically.
    /// </summary>
    public static void Save(LoraAdapters adapters, string directory, Func<string, bool>? include = null)
    {
        Directory.CreateDirectory(directory);
        var model = adapters.Model;
        var heads = model.Parameters.Parameters
            .Where(p => !p.Frozen && !LoraAdapters.IsAdapterParameter(p.Name) && (include?.Invoke(p.Name) ?? true)).ToArray();
        var tensors = adapters.AdapterParameters.Concat(heads).Select(p => (KeyPrefix + p.Name, p.Value)).ToArray();
        SafeTensors.Write(Path.Combine(directory, WeightsFileName), tensors, new Dictionary<string, string>
        {
            ["format"] = "pt",
            [DropoutDrawsKey] = adapters.DropoutDraws.ToString(CultureInfo.InvariantCulture),
        });
        var headModules = heads.Select(p => LoraTargets.ModuleOf(p.Name)).Distinct().ToArray();
        WriteConfig(Path.Combine(directory, ConfigFileName), adapters.Options, model, headModules);
    }

    private static void WriteConfig(string path, LoraOptions options, ICausalLm model, string[] modulesToSave)
    {
        var targets = new JsonArray(options.TargetModules!.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray());
        var json = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = options.BaseModelNameOrPath,
            ["bias"] = "none",
            ["fan_in_fan_out"] = model.LinearWeights.Any(w => w.Layout == MatrixLayout.InputMajor), // GPT-2's Conv1D
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = options.Alpha,
            ["lora_dropout"] = options.Dropout,
            ["modules_to_save"] = modulesToSave.Length == 0 ? null : new JsonArray(modulesToSave.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            ["peft_type"] = "LORA",
            ["r"] = options.Rank,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = targets,
            ["task_type"] = model.Config.IsSequenceClassifier ? "SEQ_CLS" : "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = false,
        };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The LoRA settings in a folder's adapter_config.json (errors name the file and key).</summary>
    public static LoraOptions ReadOptions(string directory)
    {
        string path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path)) throw new ModelFormatException(path, "The adapter folder has no adapter_config.json.");
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException error)
        {
            throw new ModelFormatException(path, $"is not valid JSON ({JsonText.Describe(error)}).", error);
        }
        if (root is not JsonObject json) throw new ModelFormatException(path, "is not a JSON object.");
        string type = json["peft_type"]?.GetValueKind() == JsonValueKind.String ? json["peft_type"]!.GetValue<string>() : "";
        if (type != "LORA") throw new ModelFormatException(path, $"key 'peft_type' is '{type}'; only LORA adapters are supported.");
        if (json["use_dora"]?.GetValueKind() == JsonValueKind.True) throw new ModelFormatException(path, "key 'use_dora' is true; DoRA is not supported.");
        if (json["use_rslora"]?.GetValueKind() == JsonValueKind.True) throw new ModelFormatException(path, "key 'use_rslora' is true; rsLoRA scaling is not supported.");
        if (json["rank_pattern"] is JsonObject { Count: > 0 } || json["alpha_pattern"] is JsonObject { Count: > 0 })
            throw new ModelFormatException(path, "keys 'rank_pattern'/'alpha_pattern' are set; per-layer ranks are not supported.");
        int rank = Number(path, json, "r");
        float alpha = json["lora_alpha"] is null ? 8 : NumberF(path, json, "lora_alpha");
        float dropout = json["lora_dropout"] is null ? 0 : NumberF(path, json, "lora_dropout");
        IReadOnlyList<string> targets = json["target_modules"] switch
        {
            JsonArray array => array.Select(n => n?.GetValue<string>() ?? "").ToArray(),
            JsonValue value when value.GetValueKind() == JsonValueKind.String => [value.GetValue<string>()],
            _ => throw new ModelFormatException(path, "key 'target_modules' must be a list of module names."),
        };
        string? basePath = json["base_model_name_or_path"]?.GetValueKind() == JsonValueKind.String ? json["base_model_name_or_path"]!.GetValue<string>() : null;
        return new LoraOptions(rank, alpha, dropout, targets) { BaseModelNameOrPath = basePath };
    }

    private static int Number(string path, JsonObject json, string key) =>
        json[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int n) ? n
        : json[key] is JsonValue d && d.GetValueKind() == JsonValueKind.Number && d.TryGetValue(out double x) && x == Math.Floor(x) ? (int)x
        : throw new ModelFormatException(path, $"key '{key}' must be an integer.");

    private static float NumberF(string path, JsonObject json, string key) =>
        json[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double x) ? (float)x
        : throw new ModelFormatException(path, $"key '{key}' must be a number.");

    /// <summary>
    /// Attaches the adapter folder's LoRA to <paramref name="model"/> (loaded from <paramref name="modelDirectory"/>) and
    /// reads its weights; errors name both folders when the adapter was made for another base.
    /// </summary>
    /// <param name="headsRequired">Heads on the model (a reward model's score) must be in the folder; otherwise they keep
    /// their values when absent (e.g. PPO's value head beside an SFT adapter).</param>
    /// <param name="modelSetting">How errors name the base folder: the CLI's --model, or an API parameter.</param>
    public static LoraAdapters Attach(ICausalLm model, string modelDirectory, string adapterDirectory, ulong seed = 42, bool headsRequired = false,
        string modelSetting = "--model")
    {
        var options = ReadOptions(adapterDirectory);
        RequireSameBase(options.BaseModelNameOrPath, modelDirectory, adapterDirectory, modelSetting);
        LoraAdapters adapters;
        try
        {
            adapters = LoraAdapters.Attach(model, options with { Seed = seed, BaseModelNameOrPath = options.BaseModelNameOrPath ?? modelDirectory });
        }
        catch (ArgumentException error)
        {
            throw new ModelFormatException(Path.Combine(adapterDirectory, ConfigFileName),
                $"the adapter does not fit the model in {modelDirectory}: {error.Message}");
        }
        var heads = headsRequired ? null
            : model.Parameters.Parameters.Where(p => !p.Frozen && !LoraAdapters.IsAdapterParameter(p.Name)).Select(p => p.Name).ToHashSet();
        try
        {
            Load(adapters, adapterDirectory, heads, modelDirectory);
        }
        catch
        {
            adapters.Detach();
            throw;
        }
        return adapters;
    }

    /// <summary>
    /// The adapter's base_model_name_or_path must name <paramref name="modelDirectory"/>: the same folder when it is a
    /// local folder, else the same last path component (a Hub id "org/name" and a local copy named "name").
    /// </summary>
    public static void RequireSameBase(string? baseName, string modelDirectory, string adapterDirectory, string modelSetting = "--model")
    {
        if (string.IsNullOrWhiteSpace(baseName)) return;
        string model = Path.GetFullPath(modelDirectory).TrimEnd(Path.DirectorySeparatorChar);
        bool same = Directory.Exists(baseName)
            ? string.Equals(Path.GetFullPath(baseName).TrimEnd(Path.DirectorySeparatorChar), model, StringComparison.Ordinal)
            : string.Equals(baseName.TrimEnd('/').Split('/')[^1], Path.GetFileName(model), StringComparison.OrdinalIgnoreCase);
        if (!same)
            throw new ModelFormatException(Path.Combine(adapterDirectory, ConfigFileName),
                $"the adapter was trained on base_model_name_or_path '{baseName}', but {modelSetting} is '{modelDirectory}'.");
    }

    /// <summary>
    /// Reads adapter_model.safetensors into the adapters (and heads it saved); everything is checked before any value
    /// changes. Returns the names in <paramref name="optional"/> the file lacked.
    /// </summary>
    public static IReadOnlyList<string> Load(LoraAdapters adapters, string directory, IReadOnlySet<string>? optional = null, string? modelDirectory = null)
    {
        string path = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(path)) throw new ModelFormatException(path, "The adapter folder has no adapter_model.safetensors.");
        using var file = SafeTensors.Open(path);
        var parameters = adapters.Model.Parameters;
        var plan = new List<(string Key, Parameter Parameter)>();
        var absent = new List<string>();
        string against = modelDirectory is null ? "this model" : $"the model in {modelDirectory}";
        foreach (var parameter in parameters.Parameters.Where(p => !p.Frozen))
        {
            string key = KeyPrefix + parameter.Name;
            string module = LoraTargets.ModuleOf(parameter.Name);
            string legacy = KeyPrefix + module + ".modules_to_save" + parameter.Name[module.Length..];
            string? found = file.Tensors.ContainsKey(key) ? key : file.Tensors.ContainsKey(legacy) ? legacy : null;
            if (found is null)
            {
                if (LoraAdapters.IsAdapterParameter(parameter.Name) || optional?.Contains(parameter.Name) != true)
                    throw new ModelFormatException(path, $"has no tensor '{key}', which {against} needs (is this adapter for another base model?).");
                absent.Add(parameter.Name);
                continue;
            }
            var info = file.Tensors[found];
            if (!info.Shape.SequenceEqual(parameter.Value.Shape))
                throw new ModelFormatException(path, $"'{found}' has shape {info.ShapeText}, but {against} needs {SafeTensors.FormatShape(parameter.Value.Shape)}; the adapter was made for another base model.");
            plan.Add((found, parameter));
        }
        var known = plan.Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        string? extra = file.Tensors.Keys.FirstOrDefault(k => LoraAdapters.IsAdapterParameter(k) && !known.Contains(k));
        if (extra is not null)
            throw new ModelFormatException(path, $"holds '{extra}', which {against} has no layer for; the adapter was made for another base model.");
        foreach (var (key, parameter) in plan) file.ReadInto(key, parameter.Value.Span);
        if (file.Metadata.TryGetValue(DropoutDrawsKey, out var draws) && long.TryParse(draws, CultureInfo.InvariantCulture, out long count))
            adapters.DropoutDraws = count;
        return absent;
    }
}
