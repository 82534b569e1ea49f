// Reads (memory-mapped, F32/F16/BF16) and writes (F32, atomically) the safetensors format used by Hugging Face.
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>One tensor's entry in a safetensors header.</summary>
internal sealed record SafeTensorInfo(string Name, string DType, int[] Shape, long ElementCount)
{
    /// <summary>Byte offset of the data, relative to the start of the data section.</summary>
    public long DataBegin { get; init; }

    /// <summary>Byte offset one past the data, relative to the start of the data section.</summary>
    public long DataEnd { get; init; }

    /// <summary>The shape written as <c>[a, b]</c>, for messages.</summary>
    public string ShapeText => SafeTensors.FormatShape(Shape);
}

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping names to
/// <c>{dtype, shape, data_offsets}</c> (plus an optional <c>__metadata__</c> map of strings), then raw little-endian data.
/// </summary>
internal static class SafeTensors
{
    /// <summary>Largest header accepted, as in the reference implementation.</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>Bytes per element of every dtype the format defines (only F32, F16 and BF16 can be read as floats).</summary>
    private static readonly Dictionary<string, int> DTypeSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2,
        ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1,
        ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1,
        ["BOOL"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
    };

    /// <summary>Dtypes <see cref="SafeTensorsFile.ReadInto"/> converts to float.</summary>
    public static IReadOnlyList<string> ReadableDTypes { get; } = ["F32", "F16", "BF16"];

    /// <summary>Opens and validates a safetensors file; throws <see cref="ModelFormatException"/> when it is malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading requires a little-endian machine.");
        long fileLength;
        try
        {
            fileLength = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the safetensors file: {e.Message}", e);
        }
        if (fileLength < 8)
            throw new ModelFormatException(path, $"is {fileLength} bytes long, too short for a safetensors file (which starts with an 8-byte header length).");

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            var file = new SafeTensorsFile(path, map, view, fileLength);
            map = null;
            view = null;
            return file;
        }
        catch (FileNotFoundException e)
        {
            throw new ModelFormatException(path, $"cannot read the safetensors file: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot map the safetensors file: {e.Message}", e);
        }
        finally
        {
            view?.Dispose();
            map?.Dispose();
        }
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as F32 (or BF16, rounded to nearest even) in the given order, with the header
    /// padded with spaces to a multiple of 8 bytes. Atomic: on failure an existing file at <paramref name="path"/> is left as it was.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        bool bfloat16 = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing requires a little-endian machine.");
        AtomicFile.Write(path, stream =>
        {
            // The header needs every shape, so the tensors are enumerated before any data is written.
            var entries = new List<(string Name, Tensor Tensor)>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, tensor) in tensors)
            {
                ArgumentException.ThrowIfNullOrEmpty(name, nameof(tensors));
                ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
                if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor.", nameof(tensors));
                if (!names.Add(name)) throw new ArgumentException($"Tensor name '{name}' appears twice.", nameof(tensors));
                entries.Add((name, tensor));
            }

            byte[] header = BuildHeader(entries, metadata, bfloat16);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, tensor) in entries)
            {
                if (bfloat16) WriteBFloat16(stream, tensor);
                else WriteFloats(stream, tensor);
            }
        });
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor)> entries, IReadOnlyDictionary<string, string>? metadata, bool bfloat16)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, nameof(metadata));
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in entries)
            {
                long bytes = checked(tensor.Length * (bfloat16 ? sizeof(ushort) : sizeof(float)));
                json.WriteStartObject(name);
                json.WriteString("dtype", bfloat16 ? "BF16" : "F32");
                json.WriteStartArray("shape");
                foreach (int dimension in tensor.Shape) json.WriteNumberValue(dimension);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static unsafe void WriteFloats(Stream stream, Tensor tensor)
    {
        byte* source = (byte*)tensor.Pointer;
        long remaining = tensor.Length * sizeof(float);
        const int chunk = 1 << 30;
        while (remaining > 0)
        {
            int count = (int)Math.Min(remaining, chunk);
            stream.Write(new ReadOnlySpan<byte>(source, count));
            source += count;
            remaining -= count;
        }
    }

    private static unsafe void WriteBFloat16(Stream stream, Tensor tensor)
    {
        const int chunk = 1 << 20;
        var buffer = new ushort[(int)Math.Min(chunk, Math.Max(1, tensor.Length))];
        fixed (ushort* destination = buffer)
        {
            for (long start = 0; start < tensor.Length; start += chunk)
            {
                int count = (int)Math.Min(chunk, tensor.Length - start);
                Rlhf.Tensors.Kernels.ReducedPrecisionKernels.SingleToBFloat16(destination, tensor.Pointer + start, count);
                stream.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, count)));
            }
        }
    }

    internal static string FormatShape(IEnumerable<int> shape) => $"[{string.Join(", ", shape)}]";

    private static string Clip(string text) => JsonText.Clip(text);

    private static readonly AsyncLocal<bool> allowNonFinite = new();

    /// <summary>
    /// When false (the default), <see cref="SafeTensorsFile.ReadInto"/> rejects a tensor holding NaN or ±Inf with an
    /// error naming it (such weights generate garbage and poison training). Set it (for the current async flow) to load
    /// such a file anyway, e.g. to inspect a diverged checkpoint.
    /// </summary>
    public static bool AllowNonFinite
    {
        get => allowNonFinite.Value;
        set => allowNonFinite.Value = value;
    }

    /// <summary>Parses and validates the header; offsets in the result are relative to the data section.</summary>
    internal static (Dictionary<string, SafeTensorInfo> Tensors, Dictionary<string, string> Metadata) ParseHeader(
        string path, ReadOnlySpan<byte> header, long dataLength)
    {
        if (System.Text.Unicode.Utf8.IsValid(header) is false)
            throw new ModelFormatException(path, "the safetensors header is not valid UTF-8 text; the file is corrupt or not a safetensors file.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"the safetensors header is not valid JSON ({JsonText.Describe(e)}); the file is corrupt or not a safetensors file.", e);
        }
        if (JsonText.FindUndecodable(document.RootElement) is { } undecodable)
        {
            document.Dispose();
            throw new ModelFormatException(path, $"{JsonText.UndecodableMessage(undecodable)}; the file is corrupt.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, $"the safetensors header must be a JSON object, found {root.ValueKind}.");

            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata) throw new ModelFormatException(path, $"'{MetadataKey}' appears twice in the safetensors header.");
                    sawMetadata = true;
                    ParseMetadata(path, property.Value, metadata);
                    continue;
                }
                var info = ParseEntry(path, property.Name, property.Value, dataLength);
                if (!tensors.TryAdd(info.Name, info))
                    throw new ModelFormatException(path, $"tensor '{Clip(info.Name)}' appears twice in the safetensors header.");
            }

            // As the reference implementation: the tensors tile the data section exactly, without gaps or overlaps,
            // and the file ends where the last tensor does (bytes inserted or appended are corruption, not slack).
            SafeTensorInfo? previous = null;
            foreach (var info in tensors.Values.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
            {
                long expectedBegin = previous?.DataEnd ?? 0;
                if (info.DataBegin < expectedBegin)
                    throw new ModelFormatException(path,
                        $"tensor '{Clip(info.Name)}' (bytes {info.DataBegin}..{info.DataEnd}) overlaps tensor '{Clip(previous!.Name)}' (bytes {previous.DataBegin}..{previous.DataEnd}); the file is corrupt.");
                if (info.DataBegin > expectedBegin)
                    throw new ModelFormatException(path,
                        $"tensor '{Clip(info.Name)}' starts at byte {info.DataBegin} of the data section, but the previous tensor ends at {expectedBegin}; the file is corrupt.");
                previous = info;
            }
            long extent = previous?.DataEnd ?? 0;
            if (extent != dataLength)
                throw new ModelFormatException(path,
                    $"the header's tensors end at byte {extent} of the data section, but the file holds {dataLength} data bytes; bytes were inserted, appended or lost.");
            return (tensors, metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(path, $"'{MetadataKey}' must be an object of strings, found {value.ValueKind}.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new ModelFormatException(path, $"'{MetadataKey}' entry '{Clip(item.Name)}' must be a string, found {item.Value.ValueKind}.");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement entry, long dataLength)
    {
        ModelFormatException Bad(string problem) => new(path, $"tensor '{Clip(name)}': {problem}");

        if (entry.ValueKind != JsonValueKind.Object)
            throw Bad($"the header entry must be an object with dtype, shape and data_offsets, found {entry.ValueKind}.");

        if (!entry.TryGetProperty("dtype", out var dtypeElement)) throw Bad("the header entry has no 'dtype'.");
        if (dtypeElement.ValueKind != JsonValueKind.String) throw Bad($"'dtype' must be a string, found {dtypeElement.ValueKind}.");
        string dtype = dtypeElement.GetString()!;
        if (!DTypeSizes.TryGetValue(dtype, out int elementSize))
            throw Bad($"unknown dtype '{Clip(dtype)}'; safetensors dtypes are {string.Join(", ", DTypeSizes.Keys)}.");

        if (!entry.TryGetProperty("shape", out var shapeElement)) throw Bad("the header entry has no 'shape'.");
        if (shapeElement.ValueKind != JsonValueKind.Array) throw Bad($"'shape' must be an array of integers, found {shapeElement.ValueKind}.");
        var shape = new int[shapeElement.GetArrayLength()];
        long elementCount = 1;
        int axis = 0;
        foreach (var dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt32(out int size) || size < 0)
                throw Bad($"'shape' must hold non-negative integers that fit in 32 bits, found {Clip(dimension.GetRawText())}.");
            shape[axis++] = size;
            try
            {
                elementCount = checked(elementCount * size);
            }
            catch (OverflowException)
            {
                throw Bad($"shape {FormatShape(shape)} has too many elements.");
            }
        }

        if (!entry.TryGetProperty("data_offsets", out var offsetsElement)) throw Bad("the header entry has no 'data_offsets'.");
        if (offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
            throw Bad($"'data_offsets' must be an array [begin, end], found {Clip(offsetsElement.GetRawText())}.");
        var begin = offsetsElement[0];
        var end = offsetsElement[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out long dataBegin) ||
            end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out long dataEnd) || dataBegin < 0 || dataEnd < dataBegin)
            throw Bad($"'data_offsets' must be non-negative integers with begin <= end, found {Clip(offsetsElement.GetRawText())}.");
        if (dataEnd > dataLength)
            throw Bad($"data_offsets [{dataBegin}, {dataEnd}] run past the end of the data section ({dataLength} bytes); the file is truncated or corrupt.");

        long expectedBytes;
        try
        {
            expectedBytes = checked(elementCount * elementSize);
        }
        catch (OverflowException)
        {
            throw Bad($"shape {FormatShape(shape)} has too many elements.");
        }
        if (dataEnd - dataBegin != expectedBytes)
            throw Bad($"data_offsets [{dataBegin}, {dataEnd}] span {dataEnd - dataBegin} bytes, but shape {FormatShape(shape)} of {dtype} needs {expectedBytes}.");

        return new SafeTensorInfo(name, dtype, shape, elementCount) { DataBegin = dataBegin, DataEnd = dataEnd };
    }
}

/// <summary>An open, validated, memory-mapped safetensors file. Dispose it to unmap the file.</summary>
internal sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;
    private byte* basePointer;
    private readonly long dataStart;

    /// <summary>The path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>Every tensor in the file, by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    internal SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long fileLength)
    {
        Path = path;
        this.map = map;
        this.view = view;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        basePointer = pointer + view.PointerOffset;
        try
        {
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
            if (headerLength > (ulong)(fileLength - 8))
                throw new ModelFormatException(path,
                    $"the header length {headerLength} runs past the end of the {fileLength}-byte file; the file is truncated or not a safetensors file.");
            if (headerLength > SafeTensors.MaxHeaderLength)
                throw new ModelFormatException(path, $"the header length {headerLength} exceeds the {SafeTensors.MaxHeaderLength}-byte limit; the file is corrupt.");
            dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = SafeTensors.ParseHeader(path, new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength), fileLength - dataStart);
            Tensors = tensors;
            Metadata = metadata;
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>
    /// Converts tensor <paramref name="name"/> to float into <paramref name="destination"/>, which must hold exactly
    /// its element count. F32, F16 and BF16 are supported.
    /// </summary>
    public void ReadInto(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(basePointer == null, this);
        if (!Tensors.TryGetValue(name, out var info))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");
        if (destination.Length != info.ElementCount)
            throw new ArgumentException(
                $"Tensor '{name}' {info.ShapeText} has {info.ElementCount} elements but the destination holds {destination.Length}.", nameof(destination));
        byte* source = basePointer + dataStart + info.DataBegin;
        switch (info.DType)
        {
            case "F32":
                new ReadOnlySpan<byte>(source, checked((int)(info.DataEnd - info.DataBegin))).CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case "F16":
                var halves = new ReadOnlySpan<Half>(source, destination.Length);
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)halves[i];
                break;
            case "BF16":
                var brains = new ReadOnlySpan<ushort>(source, destination.Length);
                for (int i = 0; i < destination.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(brains[i] << 16);
                break;
            default:
                throw new ModelFormatException(Path,
                    $"tensor '{name}' has dtype {info.DType}, which cannot be read as float; supported dtypes are {string.Join(", ", SafeTensors.ReadableDTypes)}. Convert the checkpoint to float32 (e.g. model.float() before save_pretrained).");
        }
        if (!SafeTensors.AllowNonFinite)
        {
            long bad;
            fixed (float* values = destination) bad = Rlhf.Tensors.Kernels.FiniteKernels.IndexOfNonFinite(values, destination.Length);
            if (bad >= 0)
                throw new ModelFormatException(Path,
                    $"tensor '{name}' holds {Describe(destination[(int)bad])} at element {bad}; the weights are corrupt or come from a diverged run (pass --allow-nonfinite-weights to load them anyway).");
        }
    }

    private static string Describe(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";

    private void Release()
    {
        if (basePointer != null)
        {
            basePointer = null;
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        view.Dispose();
        map.Dispose();
    }

    public void Dispose() => Release();
}
