// A minimal GGUF reader written from ggml/docs/gguf.md, independent of the exporter: to check our files' layout.
using System.Text;

namespace Rlhf.Tests.Export;

public sealed record GgufTensorInfo(string Name, ulong[] Dimensions, uint Type, ulong Offset);

public sealed class GgufReader
{
    public uint Version { get; }
    public Dictionary<string, object> Metadata { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, uint> MetadataTypes { get; } = new(StringComparer.Ordinal);
    public List<GgufTensorInfo> Tensors { get; } = [];
    public long DataStart { get; }
    public byte[] Bytes { get; }

    public GgufReader(string path)
    {
        Bytes = File.ReadAllBytes(path);
        using var reader = new BinaryReader(new MemoryStream(Bytes), Encoding.UTF8);
        if (Encoding.ASCII.GetString(reader.ReadBytes(4)) != "GGUF") throw new InvalidDataException("not GGUF");
        Version = reader.ReadUInt32();
        ulong tensorCount = reader.ReadUInt64(), kvCount = reader.ReadUInt64();
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = ReadString(reader);
            uint type = reader.ReadUInt32();
            MetadataTypes[key] = type;
            Metadata[key] = ReadValue(reader, type);
        }
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = ReadString(reader);
            uint dimensions = reader.ReadUInt32();
            var ne = new ulong[dimensions];
            for (int d = 0; d < dimensions; d++) ne[d] = reader.ReadUInt64();
            Tensors.Add(new GgufTensorInfo(name, ne, reader.ReadUInt32(), reader.ReadUInt64()));
        }
        long alignment = Metadata.TryGetValue("general.alignment", out var a) ? (uint)a : 32;
        DataStart = (reader.BaseStream.Position + alignment - 1) / alignment * alignment;
    }

    /// <summary>An f32 tensor's values.</summary>
    public float[] Float32s(GgufTensorInfo tensor)
    {
        long count = tensor.Dimensions.Aggregate(1L, (x, y) => x * (long)y);
        var values = new float[count];
        Buffer.BlockCopy(Bytes, checked((int)(DataStart + (long)tensor.Offset)), values, 0, checked((int)count * 4));
        return values;
    }

    private static string ReadString(BinaryReader reader) => Encoding.UTF8.GetString(reader.ReadBytes(checked((int)reader.ReadUInt64())));

    private static object ReadValue(BinaryReader reader, uint type) => type switch
    {
        0 => reader.ReadByte(), 1 => reader.ReadSByte(), 2 => reader.ReadUInt16(), 3 => reader.ReadInt16(),
        4 => reader.ReadUInt32(), 5 => reader.ReadInt32(), 6 => reader.ReadSingle(), 7 => reader.ReadByte() != 0,
        8 => ReadString(reader), 10 => reader.ReadUInt64(), 11 => reader.ReadInt64(), 12 => reader.ReadDouble(),
        9 => ReadArray(reader),
        _ => throw new InvalidDataException($"unknown value type {type}"),
    };

    private static object[] ReadArray(BinaryReader reader)
    {
        uint type = reader.ReadUInt32();
        ulong count = reader.ReadUInt64();
        var values = new object[count];
        for (ulong i = 0; i < count; i++) values[i] = ReadValue(reader, type);
        return values;
    }
}
