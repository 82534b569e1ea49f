// Conversions between fp32 and the 16-bit formats of Hub checkpoints: bfloat16 (the top half of an fp32) and IEEE
// binary16 (f16). Reading widens exactly; writing rounds to nearest, ties to even (NaN stays NaN).
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class ReducedPrecisionKernels
{
    private const float TwoTo112 = 5.192296858534828e33f; // 2¹¹², exactly representable

    /// <summary>destination[i] = the fp32 whose top 16 bits are source[i] (bfloat16 → fp32, exact). Parallel over chunks.</summary>
    public static void BFloat16ToSingle(float* destination, ushort* source, long count) =>
        KernelSupport.ForElements(count, (s, e) => BFloat16ToSingleRange(destination + s, source + s, e - s));

    public static void BFloat16ToSingleScalar(float* destination, ushort* source, long count)
    {
        for (long i = 0; i < count; i++) destination[i] = BitConverter.UInt32BitsToSingle((uint)source[i] << 16);
    }

    /// <summary>
    /// fp32 → bfloat16 rounding to nearest even: bits + 0x7FFF + (bit 16) then the top half; NaN keeps its sign and top
    /// payload bits with the quiet bit set (as PyTorch's conversion).
    /// </summary>
    public static void SingleToBFloat16(ushort* destination, float* source, long count) =>
        KernelSupport.ForElements(count, (s, e) => SingleToBFloat16Range(destination + s, source + s, e - s));

    public static void SingleToBFloat16Scalar(ushort* destination, float* source, long count)
    {
        for (long i = 0; i < count; i++) destination[i] = ToBFloat16(source[i]);
    }

    /// <summary>fp32 → bfloat16 of one value (round to nearest even; NaN stays a quiet NaN).</summary>
    public static ushort ToBFloat16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x40);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }

    /// <summary>
    /// IEEE binary16 → fp32 (exact). Vectorised: with e·m the 15 exponent-and-mantissa bits, a finite value is the fp32
    /// with bits e·m &lt;&lt; 13 times 2¹¹² (the exponent bias difference 127 − 15; subnormals come out right because fp32
    /// keeps them as subnormals), and infinity/NaN (e = 31) get the fp32 exponent 255; then the sign is or-ed in.
    /// </summary>
    public static void HalfToSingle(float* destination, ushort* source, long count) =>
        KernelSupport.ForElements(count, (s, e) => HalfToSingleRange(destination + s, source + s, e - s));

    public static void HalfToSingleScalar(float* destination, ushort* source, long count)
    {
        for (long i = 0; i < count; i++) destination[i] = (float)BitConverter.UInt16BitsToHalf(source[i]);
    }

    /// <summary>
    /// fp32 → IEEE binary16, round to nearest even (overflow to ±∞, NaN becomes the quiet NaN 0x7E00 with its sign).
    /// Vectorised on the magnitude bits m (F. Giesen's float_to_half_fast3_rtne): m ≥ 143 &lt;&lt; 23 (|x| ≥ 65536) is ∞ (NaN
    /// above 255 &lt;&lt; 23);
    /// below 2⁻¹⁴ (113 &lt;&lt; 23) the fp16 is subnormal: adding 0.5 (126 &lt;&lt; 23) in fp32 rounds the value to a multiple of
    /// 2⁻²⁴ by the hardware's own round-to-nearest-even, and the low bits are the result; otherwise the exponent is
    /// rebiased (−112 &lt;&lt; 23) and 0xFFF plus the lowest kept mantissa bit is added before dropping 13 bits.
    /// </summary>
    public static void SingleToHalf(ushort* destination, float* source, long count) =>
        KernelSupport.ForElements(count, (s, e) => SingleToHalfRange(destination + s, source + s, e - s));

    private static void SingleToHalfRange(ushort* destination, float* source, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
                Vector512.Store(Vector512.Narrow(NarrowHalf(Vector512.Load(source + i)), NarrowHalf(Vector512.Load(source + i + 16))), destination + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                Vector256.Store(Vector256.Narrow(NarrowHalf(Vector256.Load(source + i)), NarrowHalf(Vector256.Load(source + i + 8))), destination + i);
        }
        if (i < n) SingleToHalfScalar(destination + i, source + i, n - i);
    }

    private const uint HalfOverflow = 143u << 23, SingleInfinity = 255u << 23, HalfMinNormal = 113u << 23, SubnormalMagic = 126u << 23;

    private static Vector512<uint> NarrowHalf(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        var sign = bits & Vector512.Create(0x80000000u);
        var m = bits ^ sign;
        var special = Vector512.ConditionalSelect(Vector512.GreaterThan(m, Vector512.Create(SingleInfinity)), Vector512.Create(0x7E00u), Vector512.Create(0x7C00u));
        var subnormal = (m.AsSingle() + Vector512.Create(SubnormalMagic).AsSingle()).AsUInt32() - Vector512.Create(SubnormalMagic);
        var normal = Vector512.ShiftRightLogical(m + Vector512.Create(unchecked((uint)(-112 << 23)) + 0xFFFu) + (Vector512.ShiftRightLogical(m, 13) & Vector512<uint>.One), 13);
        var result = Vector512.ConditionalSelect(Vector512.LessThan(m, Vector512.Create(HalfMinNormal)), subnormal, normal);
        result = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(m, Vector512.Create(HalfOverflow)), special, result);
        return result | Vector512.ShiftRightLogical(sign, 16);
    }

    private static Vector256<uint> NarrowHalf(Vector256<float> x)
    {
        var bits = x.AsUInt32();
        var sign = bits & Vector256.Create(0x80000000u);
        var m = bits ^ sign;
        var special = Vector256.ConditionalSelect(Vector256.GreaterThan(m, Vector256.Create(SingleInfinity)), Vector256.Create(0x7E00u), Vector256.Create(0x7C00u));
        var subnormal = (m.AsSingle() + Vector256.Create(SubnormalMagic).AsSingle()).AsUInt32() - Vector256.Create(SubnormalMagic);
        var normal = Vector256.ShiftRightLogical(m + Vector256.Create(unchecked((uint)(-112 << 23)) + 0xFFFu) + (Vector256.ShiftRightLogical(m, 13) & Vector256<uint>.One), 13);
        var result = Vector256.ConditionalSelect(Vector256.LessThan(m, Vector256.Create(HalfMinNormal)), subnormal, normal);
        result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(m, Vector256.Create(HalfOverflow)), special, result);
        return result | Vector256.ShiftRightLogical(sign, 16);
    }

    public static void SingleToHalfScalar(ushort* destination, float* source, long count)
    {
        for (long i = 0; i < count; i++) destination[i] = BitConverter.HalfToUInt16Bits((Half)source[i]);
    }

    private static void BFloat16ToSingleRange(float* destination, ushort* source, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
            {
                var (low, high) = Vector512.Widen(Vector512.Load(source + i));
                Vector512.Store(Vector512.ShiftLeft(low, 16).AsSingle(), destination + i);
                Vector512.Store(Vector512.ShiftLeft(high, 16).AsSingle(), destination + i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                var (low, high) = Vector256.Widen(Vector256.Load(source + i));
                Vector256.Store(Vector256.ShiftLeft(low, 16).AsSingle(), destination + i);
                Vector256.Store(Vector256.ShiftLeft(high, 16).AsSingle(), destination + i + 8);
            }
        }
        if (i < n) BFloat16ToSingleScalar(destination + i, source + i, n - i);
    }

    private static void SingleToBFloat16Range(ushort* destination, float* source, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
                Vector512.Store(Vector512.Narrow(RoundToBFloat16(Vector512.Load(source + i)), RoundToBFloat16(Vector512.Load(source + i + 16))), destination + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                Vector256.Store(Vector256.Narrow(RoundToBFloat16(Vector256.Load(source + i)), RoundToBFloat16(Vector256.Load(source + i + 8))), destination + i);
        }
        if (i < n) SingleToBFloat16Scalar(destination + i, source + i, n - i);
    }

    private static Vector512<uint> RoundToBFloat16(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        var rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
        var nan = Vector512.ShiftRightLogical(bits, 16) | Vector512.Create(0x40u);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x).AsUInt32(), rounded, nan);
    }

    private static Vector256<uint> RoundToBFloat16(Vector256<float> x)
    {
        var bits = x.AsUInt32();
        var rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256<uint>.One), 16);
        var nan = Vector256.ShiftRightLogical(bits, 16) | Vector256.Create(0x40u);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x).AsUInt32(), rounded, nan);
    }

    private static void HalfToSingleRange(float* destination, ushort* source, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
            {
                var (low, high) = Vector512.Widen(Vector512.Load(source + i));
                Vector512.Store(WidenHalf(low), destination + i);
                Vector512.Store(WidenHalf(high), destination + i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                var (low, high) = Vector256.Widen(Vector256.Load(source + i));
                Vector256.Store(WidenHalf(low), destination + i);
                Vector256.Store(WidenHalf(high), destination + i + 8);
            }
        }
        if (i < n) HalfToSingleScalar(destination + i, source + i, n - i);
    }

    private static Vector512<float> WidenHalf(Vector512<uint> h)
    {
        var exponentMantissa = h & Vector512.Create(0x7FFFu);
        var shifted = Vector512.ShiftLeft(exponentMantissa, 13);
        var finite = (shifted.AsSingle() * Vector512.Create(TwoTo112)).AsUInt32();
        var special = shifted | Vector512.Create(0x7F800000u);
        var magnitude = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(exponentMantissa, Vector512.Create(0x7C00u)), special, finite);
        return (magnitude | Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16)).AsSingle();
    }

    private static Vector256<float> WidenHalf(Vector256<uint> h)
    {
        var exponentMantissa = h & Vector256.Create(0x7FFFu);
        var shifted = Vector256.ShiftLeft(exponentMantissa, 13);
        var finite = (shifted.AsSingle() * Vector256.Create(TwoTo112)).AsUInt32();
        var special = shifted | Vector256.Create(0x7F800000u);
        var magnitude = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(exponentMantissa, Vector256.Create(0x7C00u)), special, finite);
        return (magnitude | Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16)).AsSingle();
    }
}
