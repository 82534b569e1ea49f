// ggml's q8_0 block quantization (ggml-quants.c, quantize_row_q8_0_ref): per 32 values, d = max|x| / 127 stored as
// fp16 and q = round(x / d) (half away from zero) as int8; a value is read back as fp16(d) · q.
using System.Buffers.Binary;

namespace Rlhf.Export;

internal static class Q8Zero
{
    public const int BlockSize = 32;

    /// <summary>2 bytes of fp16 scale + 32 int8 values.</summary>
    public const int BlockBytes = 2 + BlockSize;

    /// <summary>Quantizes <paramref name="source"/> (a multiple of 32 values) into <paramref name="destination"/> (34 bytes per block).</summary>
    public static void Quantize(Span<byte> destination, ReadOnlySpan<float> source)
    {
        if (source.Length % BlockSize != 0) throw new ArgumentException($"q8_0 needs a multiple of {BlockSize} values, got {source.Length}.");
        if (destination.Length != source.Length / BlockSize * BlockBytes) throw new ArgumentException("The destination does not hold exactly the blocks of the source.");
        for (int block = 0; block < source.Length / BlockSize; block++)
        {
            var values = source.Slice(block * BlockSize, BlockSize);
            var output = destination.Slice(block * BlockBytes, BlockBytes);
            float max = 0;
            foreach (float v in values) max = Math.Max(max, Math.Abs(v));
            float d = max / 127f;
            float inverse = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteUInt16LittleEndian(output, BitConverter.HalfToUInt16Bits((Half)d));
            for (int i = 0; i < BlockSize; i++) output[2 + i] = (byte)(sbyte)MathF.Round(values[i] * inverse, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>The values q8_0 blocks stand for: fp16(d) · q.</summary>
    public static void Dequantize(Span<float> destination, ReadOnlySpan<byte> source)
    {
        if (source.Length % BlockBytes != 0 || destination.Length != source.Length / BlockBytes * BlockSize)
            throw new ArgumentException("The source is not whole q8_0 blocks matching the destination.");
        for (int block = 0; block < destination.Length / BlockSize; block++)
        {
            var input = source.Slice(block * BlockBytes, BlockBytes);
            float d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(input));
            for (int i = 0; i < BlockSize; i++) destination[block * BlockSize + i] = d * (sbyte)input[2 + i];
        }
    }

    /// <summary>Replaces each value by its q8_0 round trip (what a runtime reading the quantized file computes with).</summary>
    public static void RoundTrip(Span<float> values)
    {
        var blocks = new byte[values.Length / BlockSize * BlockBytes];
        Quantize(blocks, values);
        Dequantize(values, blocks);
    }
}
