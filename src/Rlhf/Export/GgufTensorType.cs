// The ggml tensor types this exporter writes (ggml.h's ggml_type numbers) and their storage sizes.
namespace Rlhf.Export;

internal enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    /// <summary>Blocks of 32 values: an fp16 scale d then 32 int8 q, value = d·q (ggml's block_q8_0).</summary>
    Q8_0 = 8,
    BF16 = 30,
}

internal static class GgufTensorTypes
{
    /// <summary>Values per block (1 for the float types).</summary>
    public static int BlockSize(this GgufTensorType type) => type == GgufTensorType.Q8_0 ? Q8Zero.BlockSize : 1;

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(this GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => 4,
        GgufTensorType.F16 or GgufTensorType.BF16 => 2,
        GgufTensorType.Q8_0 => Q8Zero.BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a type this exporter writes"),
    };

    /// <summary>Bytes of <paramref name="elements"/> values (a whole number of blocks).</summary>
    public static long ByteCount(this GgufTensorType type, long elements)
    {
        if (elements % type.BlockSize() != 0)
            throw new ArgumentException($"{elements} values are not a whole number of {type} blocks of {type.BlockSize()}.");
        return elements / type.BlockSize() * type.BlockBytes();
    }
}
