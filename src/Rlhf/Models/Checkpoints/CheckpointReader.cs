// A folder's weights as one set of tensors: model.safetensors, or the shards model.safetensors.index.json maps
// (transformers' sharded checkpoints). F32, F16 and BF16 tensors all read as fp32.
using System.Text.Json;

namespace Rlhf.Models;

internal sealed class CheckpointReader : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> files = [];
    private readonly Dictionary<string, (SafeTensorsFile File, SafeTensorInfo Info)> tensors = new(StringComparer.Ordinal);

    /// <summary>The file named in messages: model.safetensors or the index.</summary>
    public string Path { get; }

    /// <summary>Every tensor of the checkpoint, by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    /// <summary>True when the folder holds model.safetensors or a sharded index.</summary>
    public static bool Exists(string directory) =>
        File.Exists(System.IO.Path.Combine(directory, SingleFileName)) || File.Exists(System.IO.Path.Combine(directory, IndexFileName));

    /// <summary>Opens the folder's weights (the single file when both forms are present, as transformers does).</summary>
    public static CheckpointReader Open(string directory)
    {
        string single = System.IO.Path.Combine(directory, SingleFileName);
        string index = System.IO.Path.Combine(directory, IndexFileName);
        if (File.Exists(single)) return OpenFile(single);
        if (File.Exists(index)) return OpenIndex(index);
        throw new ModelFormatException(single, $"The model folder has neither {SingleFileName} nor {IndexFileName}.");
    }

    /// <summary>One safetensors file.</summary>
    public static CheckpointReader OpenFile(string path)
    {
        var file = SafeTensors.Open(path);
        return new CheckpointReader(path, [(file, file.Tensors.Values.ToList())]);
    }

    private CheckpointReader(string path, List<(SafeTensorsFile File, List<SafeTensorInfo> Infos)> parts)
    {
        Path = path;
        foreach (var (file, infos) in parts)
        {
            files.Add(file);
            foreach (var info in infos) tensors[info.Name] = (file, info);
        }
        Tensors = tensors.ToDictionary(t => t.Key, t => t.Value.Info, StringComparer.Ordinal);
    }

    /// <summary>
    /// A sharded checkpoint: every shard the index names is opened and checked — a missing shard, a tensor the index
    /// places in a shard that lacks it, or a tensor stored in two shards is a <see cref="ModelFormatException"/>
    /// naming the file and the tensor.
    /// </summary>
    public static CheckpointReader OpenIndex(string indexPath)
    {
        var map = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var opened = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, shard) in map)
            {
                if (opened.ContainsKey(shard)) continue;
                if (shard.Contains('/') || shard.Contains('\\') || shard is "." or "..")
                    throw new ModelFormatException(indexPath, $"tensor '{tensor}' is mapped to '{shard}', which is not a file name in this folder.");
                string shardPath = System.IO.Path.Combine(folder, shard);
                if (!File.Exists(shardPath))
                    throw new ModelFormatException(indexPath, $"tensor '{tensor}' is mapped to shard '{shard}', which does not exist.");
                opened[shard] = SafeTensors.Open(shardPath);
            }
            var owner = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (shard, file) in opened)
                foreach (string name in file.Tensors.Keys)
                {
                    if (owner.TryGetValue(name, out string? other))
                        throw new ModelFormatException(indexPath, $"tensor '{name}' is stored in two shards, '{other}' and '{shard}'.");
                    owner[name] = shard;
                }
            var parts = new List<(SafeTensorsFile, List<SafeTensorInfo>)>();
            foreach (var (shard, file) in opened)
                parts.Add((file, []));
            var byShard = opened.Keys.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
            foreach (var (tensor, shard) in map)
            {
                var file = opened[shard];
                if (!file.Tensors.TryGetValue(tensor, out var info))
                    throw new ModelFormatException(file.Path, $"the index maps tensor '{tensor}' to this shard, but the shard does not hold it.");
                parts[byShard[shard]].Item2.Add(info);
            }
            foreach (var (name, shard) in owner)
                if (!map.ContainsKey(name))
                    throw new ModelFormatException(opened[shard].Path, $"tensor '{name}' is in this shard but not in {IndexFileName}.");
            return new CheckpointReader(indexPath, parts);
        }
        catch
        {
            foreach (var file in opened.Values) file.Dispose();
            throw;
        }
    }

    /// <summary>The index's weight_map: tensor name → shard file name.</summary>
    public static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        using var document = ConfigJson.Parse(indexPath);
        if (!document.RootElement.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(indexPath, "key 'weight_map' (an object of tensor name → shard file) is missing.");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in weightMap.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(entry.Value.GetString()))
                throw new ModelFormatException(indexPath, $"weight_map entry '{entry.Name}' must name a shard file, found {ConfigJson.Describe(entry.Value)}.");
            map[entry.Name] = entry.Value.GetString()!;
        }
        return map;
    }

    /// <summary>The file that holds <paramref name="name"/> (for messages).</summary>
    public string FileOf(string name) => tensors[name].File.Path;

    /// <summary>Converts tensor <paramref name="name"/> to fp32 into <paramref name="destination"/> (exactly its element count).</summary>
    public void ReadInto(string name, Span<float> destination) => tensors[name].File.ReadInto(name, destination);

    public void Dispose()
    {
        foreach (var file in files) file.Dispose();
        files.Clear();
    }
}
