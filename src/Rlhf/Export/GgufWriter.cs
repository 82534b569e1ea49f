// Writes a GGUF v3 file (ggml/docs/gguf.md): header, metadata key-values, tensor infos, then the aligned tensor data.
using System.Buffers.Binary;
using System.Text;
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Export;

/// <summary>
/// One tensor to write: its GGUF name, its dimensions in ggml order (<c>ne[0]</c>, the contiguous one, first: a
/// row-major [rows, columns] matrix is <c>[columns, rows]</c>), its storage type, and a callback that fills its values
/// (row-major fp32) for the writer to encode.
/// </summary>
internal sealed record GgufTensor(string Name, long[] Dimensions, GgufTensorType Type, Action<Span<float>> Fill)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);
}

internal static class GgufWriter
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;
    public const uint Version = 3;

    /// <summary>The alignment of the data section and of every tensor in it when general.alignment is absent.</summary>
    public const int DefaultAlignment = 32;

    /// <summary>
    /// Writes the file atomically (a temp file renamed over <paramref name="path"/>); on any failure nothing is left
    /// at <paramref name="path"/> that was not there before.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(string Key, GgufValue Value)> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        string? duplicate = metadata.Select(m => m.Key).Concat(tensors.Select(t => t.Name))
            .GroupBy(name => name).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (duplicate is not null) throw new ArgumentException($"'{duplicate}' appears twice in the GGUF file's keys or tensor names.");
        AtomicFile.Write(path, stream => WriteTo(stream, metadata, tensors));
    }

    private static void WriteTo(Stream stream, IReadOnlyList<(string Key, GgufValue Value)> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write((ulong)tensors.Count);
        writer.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(writer, key);
            writer.Write((uint)value.Type);
            WriteValue(writer, value);
        }
        long offset = 0;
        foreach (var tensor in tensors)
        {
            WriteString(writer, tensor.Name);
            writer.Write((uint)tensor.Dimensions.Length);
            foreach (long dimension in tensor.Dimensions) writer.Write((ulong)dimension);
            writer.Write((uint)tensor.Type);
            writer.Write((ulong)offset);
            offset = Align(offset + tensor.Type.ByteCount(tensor.ElementCount));
        }
        writer.Flush();
        Pad(stream);

        foreach (var tensor in tensors)
        {
            long count = tensor.ElementCount;
            if (count > Array.MaxLength) throw new ArgumentException($"Tensor '{tensor.Name}' has {count} values, more than one buffer holds.");
            var values = new float[count];
            tensor.Fill(values);
            var bytes = new byte[tensor.Type.ByteCount(count)];
            Encode(bytes, values, tensor.Type);
            stream.Write(bytes);
            Pad(stream);
        }
    }

    /// <summary>Encodes fp32 values as <paramref name="type"/>: f16 and bf16 round to nearest even (as ggml converts).</summary>
    public static void Encode(Span<byte> destination, ReadOnlySpan<float> values, GgufTensorType type)
    {
        switch (type)
        {
            case GgufTensorType.F32:
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
                break;
            case GgufTensorType.F16:
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], BitConverter.HalfToUInt16Bits((Half)values[i]));
                break;
            case GgufTensorType.BF16:
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], PackedMatrix.ToBFloat16(values[i]));
                break;
            case GgufTensorType.Q8_0:
                Q8Zero.Quantize(destination, values);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a type this exporter writes");
        }
    }

    private static long Align(long offset) => (offset + DefaultAlignment - 1) / DefaultAlignment * DefaultAlignment;

    private static void Pad(Stream stream)
    {
        long padding = Align(stream.Position) - stream.Position;
        for (long i = 0; i < padding; i++) stream.WriteByte(0);
    }

    private static void WriteString(BinaryWriter writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    private static void WriteValue(BinaryWriter writer, GgufValue value)
    {
        switch (value.Type)
        {
            case GgufValueType.UInt32: writer.Write((uint)value.Value); break;
            case GgufValueType.Int32: writer.Write((int)value.Value); break;
            case GgufValueType.Float32: writer.Write((float)value.Value); break;
            case GgufValueType.Bool: writer.Write((byte)((bool)value.Value ? 1 : 0)); break;
            case GgufValueType.String: WriteString(writer, (string)value.Value); break;
            case GgufValueType.Array:
                writer.Write((uint)value.ElementType);
                switch (value.Value)
                {
                    case string[] strings when value.ElementType == GgufValueType.String:
                        writer.Write((ulong)strings.Length);
                        foreach (string s in strings) WriteString(writer, s);
                        break;
                    case int[] ints when value.ElementType == GgufValueType.Int32:
                        writer.Write((ulong)ints.Length);
                        foreach (int i in ints) writer.Write(i);
                        break;
                    case float[] floats when value.ElementType == GgufValueType.Float32:
                        writer.Write((ulong)floats.Length);
                        foreach (float f in floats) writer.Write(f);
                        break;
                    default:
                        throw new ArgumentException($"An array of {value.ElementType} must be stored as the matching .NET array.");
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(value), value.Type, "not a value type this writer writes");
        }
    }
}
