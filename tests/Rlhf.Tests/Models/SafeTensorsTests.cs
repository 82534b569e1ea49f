// Tests for the safetensors reader and writer: round trips, F16/BF16 decoding, malformed files, atomic writes.
using System.Buffers.Binary;
using System.Text;
using Rlhf.Models;
using Rlhf.Tensors;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void RoundTripsF32TensorsAndMetadata()
    {
        string path = folder.File("model.safetensors");
        var a = Tensor.FromArray([1f, -2.5f, 3.25f, float.MaxValue, float.Epsilon, -0f], 2, 3);
        var b = Tensor.FromArray([42f], 1);
        var scalar = Tensor.FromArray([7f]);
        var empty = Tensor.Zeros(0, 4);
        SafeTensors.Write(path, [("a", a), ("b.weight", b), ("scalar", scalar), ("empty", empty)],
            new Dictionary<string, string> { ["format"] = "pt" });

        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        Assert.Equal(8 + headerLength + 4 * (6 + 1 + 1), bytes.Length);

        using var file = SafeTensors.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(4, file.Tensors.Count);
        Assert.Equal("F32", file.Tensors["a"].DType);
        Assert.Equal([2, 3], file.Tensors["a"].Shape);
        Assert.Equal(6, file.Tensors["a"].ElementCount);
        Assert.Empty(file.Tensors["scalar"].Shape);
        Assert.Equal(0, file.Tensors["empty"].ElementCount);
        // Tensors are laid out in the given order.
        Assert.True(file.Tensors["a"].DataBegin < file.Tensors["b.weight"].DataBegin);

        var read = new float[6];
        file.ReadInto("a", read);
        Assert.Equal(a.ToArray(), read);
        Assert.True(float.IsNegative(read[5]));
        var one = new float[1];
        file.ReadInto("b.weight", one);
        Assert.Equal(42f, one[0]);
        file.ReadInto("scalar", one);
        Assert.Equal(7f, one[0]);
        file.ReadInto("empty", Span<float>.Empty);
    }

    [Fact]
    public void ReadIntoChecksLengthAndName()
    {
        string path = folder.File("m.safetensors");
        SafeTensors.Write(path, [("x", Tensor.FromArray([1f, 2f], 2))]);
        using var file = SafeTensors.Open(path);
        Assert.Empty(file.Metadata);
        Assert.Throws<ArgumentException>(() => file.ReadInto("x", new float[3]));
        Assert.Throws<KeyNotFoundException>(() => file.ReadInto("y", new float[2]));
    }

    [Fact]
    public void ReadsHandBuiltF16()
    {
        // 1.0, -2.0, 0.5, 65504 (max half), smallest subnormal 2^-24, +inf
        ushort[] halves = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00];
        var data = new byte[halves.Length * 2];
        for (int i = 0; i < halves.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), halves[i]);
        string path = folder.File("f16.safetensors");
        File.WriteAllBytes(path, RawSafeTensors.Build("""{"h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}}""", data));

        using var file = SafeTensors.Open(path);
        var values = new float[6];
        Assert.Contains("tensor 'h' holds +Inf at element 5", Assert.Throws<ModelFormatException>(() => file.ReadInto("h", values)).Message);
        SafeTensors.AllowNonFinite = true;
        try
        {
            file.ReadInto("h", values);
        }
        finally
        {
            SafeTensors.AllowNonFinite = false;
        }
        Assert.Equal([1f, -2f, 0.5f, 65504f, MathF.Pow(2, -24), float.PositiveInfinity], values);
    }

    [Fact]
    public void ReadsHandBuiltBF16()
    {
        // 1.0, -2.0, 3.140625 (0x4049), 1.0e-38-ish subnormal-free value 2^-126 (0x0080), -inf
        ushort[] brains = [0x3F80, 0xC000, 0x4049, 0x0080, 0xFF80];
        var data = new byte[brains.Length * 2];
        for (int i = 0; i < brains.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), brains[i]);
        string path = folder.File("bf16.safetensors");
        File.WriteAllBytes(path, RawSafeTensors.Build(
            """{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[5],"data_offsets":[0,10]}}    """, data));

        using var file = SafeTensors.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        var values = new float[5];
        Assert.Contains("tensor 'b' holds -Inf at element 4", Assert.Throws<ModelFormatException>(() => file.ReadInto("b", values)).Message);
        SafeTensors.AllowNonFinite = true;
        try
        {
            file.ReadInto("b", values);
        }
        finally
        {
            SafeTensors.AllowNonFinite = false;
        }
        Assert.Equal([1f, -2f, 3.140625f, MathF.Pow(2, -126), float.NegativeInfinity], values);
    }

    [Fact]
    public void NonFloatDTypeOpensButCannotBeReadAsFloat()
    {
        string path = folder.File("i64.safetensors");
        File.WriteAllBytes(path, RawSafeTensors.Build("""{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", new byte[16]));
        using var file = SafeTensors.Open(path);
        var error = Assert.Throws<ModelFormatException>(() => file.ReadInto("ids", new float[2]));
        Assert.Contains("ids", error.Message);
        Assert.Contains("I64", error.Message);
        Assert.Contains(path, error.Message);
    }

    public static TheoryData<string, string, int, long?, string[]> MalformedFiles => new()
    {
        // name, header, data bytes, header length override, fragments the message must contain
        { "length beyond file", """{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, 1_000_000, ["header length", "1000000"] },
        { "invalid json", """{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", 4, null, ["not valid JSON"] },
        { "not an object", """[1,2]""", 0, null, ["JSON object"] },
        { "offsets out of range", """{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, null, ["'t'", "[0, 8]", "past the end"] },
        { "truncated data", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 20, null, ["'t'", "past the end"] },
        { "overlapping", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, null, ["overlaps", "'a'", "'t'"] },
        { "wrong size for shape", """{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, null, ["'t'", "[3]", "needs 12"] },
        { "unknown dtype", """{"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}""", 4, null, ["'t'", "unknown dtype 'F33'"] },
        { "missing dtype", """{"t":{"shape":[1],"data_offsets":[0,4]}}""", 4, null, ["'t'", "'dtype'"] },
        { "missing shape", """{"t":{"dtype":"F32","data_offsets":[0,4]}}""", 4, null, ["'t'", "'shape'"] },
        { "missing offsets", """{"t":{"dtype":"F32","shape":[1]}}""", 4, null, ["'t'", "'data_offsets'"] },
        { "negative dimension", """{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, null, ["'t'", "'shape'"] },
        { "reversed offsets", """{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, null, ["'t'", "begin <= end"] },
        { "metadata not strings", """{"__metadata__":{"format":1}}""", 0, null, ["__metadata__", "format"] },
        { "bytes appended", """{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, null, ["end at byte 4", "holds 8 data bytes"] },
        { "gap between tensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12, null, ["'t'", "starts at byte 8", "ends at 4"] },
        { "lone surrogate name", """{"\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, null, ["not valid text", "surrogate"] },
        { "huge name clipped", "{\"" + new string('n', 100_000) + "\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, null, ["100,000 characters", "unknown dtype"] },
    };

    [Fact]
    public void InvalidUtf8HeaderNamesTheFile()
    {
        string path = folder.File("utf8.safetensors");
        var header = System.Text.Encoding.UTF8.GetBytes("""{"tX":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""");
        header[3] = 0xFF;
        var file = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        var error = Assert.Throws<ModelFormatException>(() => SafeTensors.Open(path).Dispose());
        Assert.Equal($"{path}: the safetensors header is not valid UTF-8 text; the file is corrupt or not a safetensors file.", error.Message);
    }

    [Fact]
    public void NonFiniteF32NamesTensorAndElement()
    {
        string path = folder.File("nan.safetensors");
        SafeTensors.Write(path, [("ok", Tensor.FromArray([1f], 1)), ("w", Tensor.FromArray([1f, 2f, 3f, float.NaN, 5f], 5))]);
        using var file = SafeTensors.Open(path);
        file.ReadInto("ok", new float[1]);
        var error = Assert.Throws<ModelFormatException>(() => file.ReadInto("w", new float[5]));
        Assert.StartsWith($"{path}: tensor 'w' holds NaN at element 3;", error.Message);
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void MalformedFilesAreRejectedWithFileAndTensor(string name, string header, int dataBytes, long? headerLength, string[] fragments)
    {
        string path = folder.File($"{name.Replace(' ', '-')}.safetensors");
        File.WriteAllBytes(path, RawSafeTensors.Build(header, new byte[dataBytes], headerLength));
        var error = Assert.Throws<ModelFormatException>(() => SafeTensors.Open(path).Dispose());
        Assert.Equal(path, error.FilePath);
        Assert.StartsWith(path, error.Message);
        foreach (string fragment in fragments) Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void TooShortAndMissingFilesAreRejected()
    {
        string shortPath = folder.File("short.safetensors");
        File.WriteAllBytes(shortPath, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<ModelFormatException>(() => SafeTensors.Open(shortPath)).Message);
        string missing = folder.File("missing.safetensors");
        Assert.Contains(missing, Assert.Throws<ModelFormatException>(() => SafeTensors.Open(missing)).Message);
    }

    [Fact]
    public void FailingWriteLeavesExistingFileUntouchedAndNoTempFiles()
    {
        string path = folder.File("model.safetensors");
        SafeTensors.Write(path, [("keep", Tensor.FromArray([1f, 2f, 3f], 3))]);
        byte[] before = File.ReadAllBytes(path);

        IEnumerable<(string, Tensor)> Throwing()
        {
            yield return ("a", Tensor.FromArray([5f], 1));
            throw new InvalidOperationException("boom");
        }
        Assert.Throws<InvalidOperationException>(() => SafeTensors.Write(path, Throwing()));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path));

        // Duplicate names are refused the same way.
        var t = Tensor.FromArray([1f], 1);
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [("x", t), ("x", t)]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void FailingRenameDeletesTempFile()
    {
        // The target is a folder, so the final move fails after the temp file has been written and flushed.
        string target = folder.File("occupied");
        Directory.CreateDirectory(target);
        Assert.ThrowsAny<IOException>(() => SafeTensors.Write(target, [("x", Tensor.FromArray([1f], 1))]));
        Assert.Empty(Directory.GetFiles(folder.Path));
        Assert.True(Directory.Exists(target));
    }

    [Fact]
    public void WriteReplacesExistingFile()
    {
        string path = folder.File("model.safetensors");
        SafeTensors.Write(path, [("old", Tensor.FromArray([1f, 2f, 3f, 4f], 4))]);
        SafeTensors.Write(path, [("new", Tensor.FromArray([9f], 1))]);
        using var file = SafeTensors.Open(path);
        Assert.Equal(["new"], file.Tensors.Keys);
        Assert.Equal([path], Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void HeaderIsPaddedWithSpacesAndIsPlainJson()
    {
        string path = folder.File("pad.safetensors");
        SafeTensors.Write(path, [("abc", Tensor.FromArray([1f], 1))], new Dictionary<string, string> { ["format"] = "pt" });
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\"},\"abc\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", header);
        Assert.Equal(header.TrimEnd(' ').Length + (8 - header.TrimEnd(' ').Length % 8) % 8, header.Length);
    }
}
