// generation_config.json: the decoding defaults saved beside a model, in Hugging Face's format.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlhf.Models.Generation;

internal sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }

    /// <summary>Every id of eos_token_id when the file lists several (Llama 3 Instruct: end_of_text, eom_id, eot_id);
    /// generation stops on any of them. <see cref="EosTokenId"/> is the first.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public bool DoSample { get; init; }
    public float Temperature { get; init; } = 1f;
    public int TopK { get; init; } = 50;
    public float TopP { get; init; } = 1f;
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Options for <see cref="Generator"/> from these defaults.</summary>
    public GenerationOptions ToOptions() => new()
    {
        MaxNewTokens = MaxNewTokens, DoSample = DoSample, Temperature = Temperature, TopK = DoSample ? TopK : 0, TopP = TopP,
        EosTokenId = EosTokenId, EosTokenIds = EosTokenIds, PadTokenId = PadTokenId,
    };

    public static GenerationConfig Load(string path)
    {
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ModelFormatException(path, "generation_config.json must hold a JSON object.");
            int? Int(string key) => root[key] is JsonValue v && v.TryGetValue(out int i) ? i
                : root[key] is JsonArray a && a.Count > 0 && a[0] is JsonValue first && first.TryGetValue(out int j) ? j : null;
            float? Float(string key) => root[key] is JsonValue v && v.TryGetValue(out double d) ? (float)d : null;
            return new GenerationConfig
            {
                BosTokenId = Int("bos_token_id"),
                EosTokenId = Int("eos_token_id"),
                EosTokenIds = root["eos_token_id"] is JsonArray list
                    ? [.. list.Select(x => x is JsonValue v && v.TryGetValue(out int id) ? id
                        : throw new ModelFormatException(path, "eos_token_id must be an integer or a list of integers."))]
                    : [],
                PadTokenId = Int("pad_token_id"),
                DoSample = root["do_sample"] is JsonValue s && s.TryGetValue(out bool b) && b,
                Temperature = Float("temperature") ?? 1f,
                TopK = Int("top_k") ?? 50,
                TopP = Float("top_p") ?? 1f,
                MaxNewTokens = Int("max_new_tokens") ?? 64,
            };
        }
        catch (JsonException error)
        {
            throw new ModelFormatException(path, $"generation_config.json is not valid JSON ({JsonText.Describe(error)}).", error);
        }
    }

    public void Save(string path)
    {
        var root = new JsonObject
        {
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Count > 1 ? new JsonArray([.. EosTokenIds.Select(id => (JsonNode)id)]) : EosTokenId,
            ["pad_token_id"] = PadTokenId,
            ["do_sample"] = DoSample, ["temperature"] = Temperature, ["top_k"] = TopK, ["top_p"] = TopP,
            ["max_new_tokens"] = MaxNewTokens, ["transformers_version"] = "4.46.0",
        };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, root, new JsonSerializerOptions { WriteIndented = true }));
    }
}
