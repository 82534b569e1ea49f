// `rlhf export gguf`: a Hugging Face model folder → one GGUF file that llama.cpp, LLamaSharp, Ollama and LM Studio load.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Training;

namespace Rlhf.Export;

/// <summary>Weight precision of the exported file (llama.cpp's --outtype names).</summary>
internal enum GgufOutType { F32, F16, BF16, Q8_0 }

/// <summary>What was written: the file, its architecture, and how many tensors went out in each type.</summary>
/// <param name="MatrixBytes">Bytes of the matrices that take the out type: what one decode step streams.</param>
internal sealed record GgufExportResult(string Path, string Architecture, long Bytes, int VocabSize, IReadOnlyDictionary<GgufTensorType, int> TensorTypes,
    long MatrixBytes);

internal static class GgufExporter
{
    /// <summary>The families with a GGUF form, by config.json's model_type.</summary>
    private static readonly Dictionary<string, Func<ModelFolder, IGgufFamily>> Families = new(StringComparer.Ordinal)
    {
        ["gpt2"] = folder => new Gpt2Gguf(folder.Model as Gpt2Model ?? throw new ArgumentException("A gpt2 export needs a GPT-2 model.")),
    };

    public static IReadOnlyCollection<string> SupportedModelTypes => Families.Keys;

    public static GgufOutType ParseOutType(string name) => name.ToLowerInvariant() switch
    {
        "f32" or "float32" => GgufOutType.F32,
        "f16" or "float16" => GgufOutType.F16,
        "bf16" or "bfloat16" => GgufOutType.BF16,
        "q8_0" => GgufOutType.Q8_0,
        _ => throw new ArgumentException($"--outtype '{name}' is not one of f32, f16, bf16, q8_0."),
    };

    /// <summary>
    /// Exports the model folder at <paramref name="modelDirectory"/> (config.json, model.safetensors, tokenizer files,
    /// optionally generation_config.json and a chat template) to <paramref name="outputPath"/>, atomically.
    /// A folder that GGUF cannot express (another family, a reward model, a bare LoRA adapter, no tokenizer) is
    /// refused with an error naming what is missing, before anything is written.
    /// </summary>
    public static GgufExportResult Export(string modelDirectory, string outputPath, GgufOutType outType)
    {
        string modelType = CheckExpressible(modelDirectory);
        using var folder = ModelFolder.Load(modelDirectory);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory)));
        return Write(folder, modelType, outputPath, outType, name, ReadChatTemplate(modelDirectory));
    }

    /// <summary>Writes a loaded model and tokenizer (e.g. a random benchmark model) as GGUF, atomically.</summary>
    public static GgufExportResult Write(ModelFolder folder, string modelType, string outputPath, GgufOutType outType, string name, string? chatTemplate = null)
    {
        if (!Families.TryGetValue(modelType, out var create))
            throw new ArgumentException($"model_type '{modelType}' has no GGUF export (supported: {string.Join(", ", Families.Keys)}).");
        if (Directory.Exists(outputPath)) throw new IOException($"{outputPath} is a folder; --output names the .gguf file to write.");
        var family = create(folder);
        var (metadata, tensors) = Build(family, folder, name, chatTemplate, outType);
        string? parent = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (parent is not null) Directory.CreateDirectory(parent);
        GgufWriter.Write(outputPath, metadata, tensors);
        long matrixBytes = family.Tensors.Where(t => t.Shape.Length == 2 && !t.KeepFloat32)
            .Sum(t => TensorType(t, outType).ByteCount(t.Shape.Aggregate(1L, (a, b) => a * b)));
        return new GgufExportResult(outputPath, family.Architecture, new FileInfo(outputPath).Length, folder.Model.Config.VocabSize,
            tensors.GroupBy(t => t.Type).ToDictionary(g => g.Key, g => g.Count()), matrixBytes);
    }

    /// <summary>The metadata and tensors of the file (exposed for tests).</summary>
    public static (List<(string Key, GgufValue Value)> Metadata, List<GgufTensor> Tensors) Build(IGgufFamily family, ModelFolder folder,
        string name, string? chatTemplate, GgufOutType outType)
    {
        var tensors = family.Tensors.Select(source => new GgufTensor(source.Name, [.. source.Shape.Reverse().Select(d => (long)d)],
            TensorType(source, outType), source.Fill)).ToList();
        var metadata = new List<(string Key, GgufValue Value)>
        {
            ("general.architecture", GgufValue.String(family.Architecture)),
            ("general.name", GgufValue.String(name)),
            ("general.file_type", GgufValue.UInt32(FileType(outType))),
            ("general.quantization_version", GgufValue.UInt32(2)),
        };
        metadata.AddRange(family.HyperParameters);
        var generation = folder.Generation;
        metadata.AddRange(GgufTokenizer.Metadata(folder.Tokenizer, folder.Model.Config.VocabSize,
            generation.BosTokenId ?? folder.Tokenizer.BosTokenId, folder.EosTokenId, folder.Tokenizer.PadTokenId ?? folder.Model.Config.PadTokenId));
        if (chatTemplate is not null) metadata.Add(("tokenizer.chat_template", GgufValue.String(chatTemplate)));
        return (metadata, tensors);
    }

    /// <summary>
    /// The converter's rules: 1-D tensors (norms, biases) and those it keeps wide stay fp32; matrices take the out
    /// type, except that q8_0 needs rows of whole 32-value blocks and falls back to f16 otherwise.
    /// </summary>
    public static GgufTensorType TensorType(GgufSource source, GgufOutType outType)
    {
        if (source.Shape.Length <= 1 || source.KeepFloat32) return GgufTensorType.F32;
        return outType switch
        {
            GgufOutType.F32 => GgufTensorType.F32,
            GgufOutType.F16 => GgufTensorType.F16,
            GgufOutType.BF16 => GgufTensorType.BF16,
            GgufOutType.Q8_0 => source.Shape[^1] % Q8Zero.BlockSize == 0 ? GgufTensorType.Q8_0 : GgufTensorType.F16,
            _ => throw new ArgumentOutOfRangeException(nameof(outType)),
        };
    }

    /// <summary>general.file_type: llama_ftype (ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32).</summary>
    public static uint FileType(GgufOutType outType) => outType switch
    {
        GgufOutType.F32 => 0,
        GgufOutType.F16 => 1,
        GgufOutType.Q8_0 => 7,
        GgufOutType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(outType)),
    };

    /// <summary>tokenizer_config.json's chat_template (a string), else chat_template.jinja; null when there is none.</summary>
    public static string? ReadChatTemplate(string modelDirectory)
    {
        string jinja = Path.Combine(modelDirectory, "chat_template.jinja");
        string config = Path.Combine(modelDirectory, "tokenizer_config.json");
        if (File.Exists(config))
        {
            using var document = ReadJson(config);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("chat_template", out var template))
            {
                if (template.ValueKind == JsonValueKind.String) return template.GetString();
                if (template.ValueKind != JsonValueKind.Null)
                    throw new ModelFormatException(config, "chat_template must be a string to be exported (named template lists are not supported).");
            }
        }
        return File.Exists(jinja) ? File.ReadAllText(jinja) : null;
    }

    /// <summary>Refuses what GGUF cannot hold, naming what is missing; returns the model_type.</summary>
    private static string CheckExpressible(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"The model folder '{directory}' does not exist.");
        string configPath = Path.Combine(directory, ICausalLm.ConfigFileName);
        if (!File.Exists(configPath))
        {
            if (File.Exists(Path.Combine(directory, "adapter_config.json")))
                throw new ModelFormatException(directory, "holds a LoRA adapter, not a model; merge it into its base model first and export the merged folder.");
            throw new ModelFormatException(configPath, "missing: the model folder has no config.json.");
        }
        using var document = ReadJson(configPath);
        var root = document.RootElement;
        string modelType = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()! : "gpt2";
        if (!Families.ContainsKey(modelType))
            throw new ModelFormatException(configPath, $"model_type '{modelType}' has no GGUF export (supported: {string.Join(", ", Families.Keys)}).");
        if (root.TryGetProperty("architectures", out var architectures) && architectures.ValueKind == JsonValueKind.Array
            && architectures.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString()!.EndsWith("ForSequenceClassification", StringComparison.Ordinal)))
            throw new ModelFormatException(configPath,
                $"is a reward model ({architectures[0]}); GGUF's '{modelType}' architecture has no score head. Export a causal LM (the policy) instead.");
        if (!File.Exists(Path.Combine(directory, ICausalLm.WeightsFileName)))
            throw new ModelFormatException(Path.Combine(directory, ICausalLm.WeightsFileName), "missing: the model folder has no weights.");
        bool hasTokenizer = File.Exists(Path.Combine(directory, "tokenizer.json"))
            || (File.Exists(Path.Combine(directory, "vocab.json")) && File.Exists(Path.Combine(directory, "merges.txt")));
        if (!hasTokenizer)
            throw new ModelFormatException(directory, "has no tokenizer (tokenizer.json, or vocab.json + merges.txt); a GGUF file must carry its vocabulary and merges.");
        return modelType;
    }

    private static JsonDocument ReadJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"is not valid JSON ({e.Message}).", e);
        }
    }
}
