// A typed GGUF metadata value (ggml/docs/gguf.md, "gguf_metadata_value_type"): the scalar kinds, strings and arrays.
namespace Rlhf.Export;

/// <summary>The value types of the GGUF specification, with their numbers on disk.</summary>
internal enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One metadata value. Arrays hold one element type (<see cref="ElementType"/>) and are stored as .NET arrays of
/// the matching type (<c>string[]</c>, <c>int[]</c>, <c>float[]</c>).
/// </summary>
internal sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue UInt32(uint value) => new(GgufValueType.UInt32, value);
    public static GgufValue Int32(int value) => new(GgufValueType.Int32, value);
    public static GgufValue Float32(float value) => new(GgufValueType.Float32, value);
    public static GgufValue Bool(bool value) => new(GgufValueType.Bool, value);
    public static GgufValue String(string value) => new(GgufValueType.String, value);
    public static GgufValue Strings(string[] values) => new(GgufValueType.Array, values, GgufValueType.String);
    public static GgufValue Int32s(int[] values) => new(GgufValueType.Array, values, GgufValueType.Int32);
    public static GgufValue Float32s(float[] values) => new(GgufValueType.Array, values, GgufValueType.Float32);
}
