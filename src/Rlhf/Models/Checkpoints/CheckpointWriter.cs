// Writes a model's tensors as transformers saves them: one model.safetensors, or shards of at most a given size
// (model-00001-of-0000N.safetensors) with model.safetensors.index.json; F32 by default, BF16 on request.
using System.Globalization;
using System.Text.Json;
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>How weights are written.</summary>
/// <param name="BFloat16">Store BF16 (rounded to nearest even) instead of F32; reading widens them back.</param>
/// <param name="MaxShardBytes">Split into shards of at most this many bytes (a larger tensor gets a shard of its own);
/// null writes one file.</param>
internal sealed record CheckpointFormat(bool BFloat16 = false, long? MaxShardBytes = null)
{
    public static CheckpointFormat Default { get; } = new();

    /// <summary>Parses a size as transformers' max_shard_size does: "5GB" = 5·10⁹ bytes, "5GiB" = 5·2³⁰, "200MB", or a byte count.</summary>
    public static long ParseSize(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string s = text.Trim().ToUpperInvariant();
        (string Suffix, long Factor)[] units =
            [("GIB", 1L << 30), ("MIB", 1L << 20), ("KIB", 1L << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1)];
        foreach (var (suffix, factor) in units)
        {
            if (!s.EndsWith(suffix, StringComparison.Ordinal)) continue;
            if (double.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0)
                return checked((long)(value * factor));
            break;
        }
        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) && bytes > 0) return bytes;
        throw new ArgumentException($"'{text}' is not a size; write e.g. 5GB, 500MB or 2GiB.");
    }
}

internal static class CheckpointWriter
{
    private static readonly Dictionary<string, string> Metadata = new() { ["format"] = "pt" };

    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="directory"/> (each file atomically), then removes the weights
    /// of the other layout (a stale model.safetensors beside new shards would be loaded first by transformers).
    /// </summary>
    public static void Save(string directory, IReadOnlyList<(string Name, Tensor Tensor)> tensors, CheckpointFormat? format = null)
    {
        format ??= CheckpointFormat.Default;
        Directory.CreateDirectory(directory);
        int bytesPerValue = format.BFloat16 ? 2 : 4;
        long total = tensors.Sum(t => t.Tensor.Length * bytesPerValue);
        string single = Path.Combine(directory, CheckpointReader.SingleFileName);
        string index = Path.Combine(directory, CheckpointReader.IndexFileName);
        var staleShards = File.Exists(index) ? SafeWeightMap(index).Values.Distinct().ToHashSet() : [];

        if (format.MaxShardBytes is not long limit || total <= limit)
        {
            SafeTensors.Write(single, tensors, Metadata, format.BFloat16);
            if (File.Exists(index)) File.Delete(index);
            foreach (string shard in staleShards) DeleteShard(directory, shard);
            return;
        }

        var shards = new List<List<(string Name, Tensor Tensor)>> { new() };
        long size = 0;
        foreach (var tensor in tensors)
        {
            long bytes = tensor.Tensor.Length * bytesPerValue;
            if (shards[^1].Count > 0 && size + bytes > limit)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(tensor);
            size += bytes;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var names = new List<string>();
        for (int i = 0; i < shards.Count; i++)
        {
            string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            names.Add(name);
            SafeTensors.Write(Path.Combine(directory, name), shards[i], Metadata, format.BFloat16);
            foreach (var (tensor, _) in shards[i]) weightMap[tensor] = name;
        }
        AtomicFile.Write(index, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", total);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (tensor, shard) in weightMap) json.WriteString(tensor, shard);
            json.WriteEndObject();
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
        });
        if (File.Exists(single)) File.Delete(single);
        foreach (string shard in staleShards.Except(names)) DeleteShard(directory, shard);
    }

    private static Dictionary<string, string> SafeWeightMap(string index)
    {
        try
        {
            return CheckpointReader.ReadWeightMap(index);
        }
        catch (ModelFormatException)
        {
            return [];
        }
    }

    private static void DeleteShard(string directory, string shard)
    {
        if (shard.Contains('/') || shard.Contains('\\')) return;
        string path = Path.Combine(directory, shard);
        if (File.Exists(path)) File.Delete(path);
    }
}
