// Finds the first NaN or ±Inf in a float range (loaded weights, optimizer moments), in one pass at memory speed.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class FiniteKernels
{
    /// <summary>
    /// The index of the first element of values[0..count) that is NaN or infinite, or -1 when all are finite.
    /// A float is finite exactly when its exponent bits are not all ones (IEEE 754), so the vector test is
    /// (bits &amp; 0x7F800000) == 0x7F800000 per lane; the scalar loop then pins the index.
    /// </summary>
    public static long IndexOfNonFinite(float* values, long count)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var mask = Vector512.Create(0x7F800000u);
            for (; i <= count - 16; i += 16)
                if (Vector512.EqualsAny(Vector512.Load((uint*)(values + i)) & mask, mask)) return i + ScalarIndex(values + i, 16);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create(0x7F800000u);
            for (; i <= count - 8; i += 8)
                if (Vector256.EqualsAny(Vector256.Load((uint*)(values + i)) & mask, mask)) return i + ScalarIndex(values + i, 8);
        }
        long rest = ScalarIndex(values + i, count - i);
        return rest < 0 ? -1 : i + rest;
    }

    /// <summary>The scalar reference: the first index with !float.IsFinite, or -1.</summary>
    public static long ScalarIndex(float* values, long count)
    {
        for (long i = 0; i < count; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
