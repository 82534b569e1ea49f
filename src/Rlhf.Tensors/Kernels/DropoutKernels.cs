// Inverted dropout as torch.nn.functional.dropout: each value is kept with probability 1 − p and scaled by 1/(1 − p).
// The mask is counter-based (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3"): element i's draw is a
// keyed hash of (seed, i), so any element's mask is computed on its own, sixteen at a time, on any thread, and backward
// regenerates the mask instead of storing it, or (Stored) reads it back from one bit per element written once in forward.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

/// <summary>
/// The dropout mask of one seed: mask[i] = 0 when hash(seed, i) &lt; p·2³², else 1/(1 − p). The hash is two rounds of
/// Wellons' lowbias32 integer mixer keyed by SplitMix64(seed) (32-bit uniform draws: the keep rate is 1 − p within 2⁻³²).
/// Same seed, same mask, whatever the thread count or the order elements are visited in. A <see cref="Stored"/> mask reads
/// the same values from a bit per element (1 = kept) that <see cref="DropoutKernels.StoreBits"/> wrote.
/// </summary>
internal readonly unsafe struct DropoutMask
{
    private readonly uint key0, key1, threshold;
    private readonly ushort* keptBits; // null: draw each element from the hash

    private DropoutMask(in DropoutMask source, ushort* bits)
    {
        (key0, key1, threshold, KeepScale, Enabled) = (source.key0, source.key1, source.threshold, source.KeepScale, source.Enabled);
        keptBits = bits;
    }

    /// <summary>Bytes <see cref="DropoutKernels.StoreBits"/> writes for <paramref name="count"/> elements (with the padding reads need).</summary>
    public static long StoredBytes(long count) => (count + 15) / 16 * 2 + 16;

    /// <summary>True for a <see cref="Stored"/> mask (its values read from bits, not hashed).</summary>
    public bool IsStored => keptBits != null;

    /// <summary>This mask read from <paramref name="bits"/>, which <see cref="DropoutKernels.StoreBits"/> filled from it.</summary>
    public DropoutMask Stored(ushort* bits) => new(this, bits);

    /// <summary>The factor kept values are multiplied by: 1/(1 − p).</summary>
    public float KeepScale { get; }

    /// <summary>False for p = 0: every value is kept unscaled.</summary>
    public bool Enabled { get; }

    /// <summary>Draws below this are dropped (p·2³²).</summary>
    internal uint Threshold => threshold;

    public DropoutMask(float probability, ulong seed)
    {
        if (!(probability >= 0f && probability < 1f)) throw new ArgumentOutOfRangeException(nameof(probability), $"Dropout probability {probability} is outside [0, 1).");
        Enabled = probability > 0f;
        KeepScale = Enabled ? 1f / (1f - probability) : 1f;
        threshold = (uint)Math.Min(uint.MaxValue, Math.Round(probability * 4294967296.0));
        ulong z = seed + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        (key0, key1) = ((uint)z, (uint)(z >> 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint x)
    {
        x ^= x >> 16; x *= 0x21F0AAADu;
        x ^= x >> 15; x *= 0x735A2D97u;
        return x ^ (x >> 15);
    }

    // The high half of the element index (tensors of more than 2³² values) goes into the second round's key.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint HighKey(long index)
    {
        uint high = (uint)((ulong)index >> 32);
        return high == 0 ? key1 : key1 ^ Mix(high * 0x9E3779B9u);
    }

    /// <summary>The 32-bit draw of element <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Draw(long index) => Mix(Mix((uint)index ^ key0) ^ HighKey(index));

    /// <summary>mask[index]: 0 or <see cref="KeepScale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Value(long index) =>
        !Enabled ? 1f : (keptBits != null ? ((keptBits[index >> 4] >> (int)(index & 15)) & 1) == 0 : Draw(index) < threshold) ? 0f : KeepScale;

    /// <summary>mask[index .. index + 16) (sixteen consecutive elements), as <see cref="Value"/> computes each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Vector(long index)
    {
        if (!Enabled) return Vector512<float>.One;
        if (keptBits != null) return StoredVector(index);
        if ((uint)index > uint.MaxValue - 15) return Straddling(index); // the sixteen cross a 2³² boundary
        return Vector512.ConditionalSelect(DroppedLanes(index).AsSingle(), Vector512<float>.Zero, Vector512.Create(KeepScale));
    }

    /// <summary>
    /// <see cref="Vector"/> of a <see cref="Stored"/> mask (IsStored only, unchecked): straight-line code with no call on
    /// any path, so a kernel that inlines it keeps its accumulators in registers (a possible call spills them all).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> StoredVector(long index)
    {
        // Sixteen bits from element index on: an unaligned 64-bit window shifted to the index's bit (lane j tests bit j,
        // the bits above the sixteenth are ignored).
        ulong window = Unsafe.ReadUnaligned<ulong>((byte*)keptBits + (index >> 3));
        var lanes = Vector512.Create((uint)(window >> (int)(index & 7)))
            & Vector512.Create(1u, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
        return Vector512.ConditionalSelect(Vector512.Equals(lanes, Vector512<uint>.Zero).AsSingle(), Vector512<float>.Zero, Vector512.Create(KeepScale));
    }

    /// <summary>All-ones lanes where elements index .. index + 15 are dropped, from the hash (the sixteen within one 2³² block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Vector512<uint> DroppedLanes(long index)
    {
        var x = (Vector512.Create((uint)index) + Vector512.Create(0u, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) ^ Vector512.Create(key0);
        x = MixVector(MixVector(x) ^ Vector512.Create(HighKey(index)));
        return Vector512.LessThan(x, Vector512.Create(threshold));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> MixVector(Vector512<uint> x)
    {
        x ^= Vector512.ShiftRightLogical(x, 16); x *= Vector512.Create(0x21F0AAADu);
        x ^= Vector512.ShiftRightLogical(x, 15); x *= Vector512.Create(0x735A2D97u);
        return x ^ Vector512.ShiftRightLogical(x, 15);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Vector512<float> Straddling(long index)
    {
        var values = new float[16];
        for (int i = 0; i < 16; i++) values[i] = Value(index + i);
        return Vector512.Create(values);
    }
}

internal static unsafe class DropoutKernels
{
    /// <summary>
    /// output[i] = mask[i]·input[i] (forward), or with accumulate output[i] += mask[i]·input[i] (backward:
    /// dInput += mask·dOutput, since ∂(m·x)/∂x = m). Element i of the tensor is mask element <paramref name="first"/> + i.
    /// Parallel over chunks.
    /// </summary>
    public static void Multiply(float* output, float* input, long count, DropoutMask mask, bool accumulate = false, long first = 0) =>
        KernelSupport.ForElements(count, (s, e) => MultiplyRange(output, input, s, e, mask, accumulate, first));

    private static void MultiplyRange(float* output, float* input, long start, long end, DropoutMask mask, bool accumulate, long first)
    {
        long i = start;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= end - 16; i += 16)
            {
                var x = Vector512.Load(input + i) * mask.Vector(first + i);
                (accumulate ? Vector512.Load(output + i) + x : x).Store(output + i);
            }
        }
        for (; i < end; i++) output[i] = accumulate ? output[i] + mask.Value(first + i) * input[i] : mask.Value(first + i) * input[i];
    }

    /// <summary>
    /// bits[i / 16] bit i % 16 = 1 where element i of the first <paramref name="count"/> is kept (by the hash, not a stored
    /// mask), zero past the count and in the padding <see cref="DropoutMask.StoredBytes"/> adds. Parallel over chunks.
    /// </summary>
    public static void StoreBits(ushort* bits, long count, DropoutMask mask)
    {
        long words = (count + 15) / 16;
        new Span<byte>((byte*)bits + words * 2, 16).Clear();
        KernelSupport.ForElements(words, (first, last) =>
        {
            for (long w = first; w < last; w++)
            {
                long index = w * 16;
                if (Vector512.IsHardwareAccelerated && index + 16 <= count && (uint)index <= uint.MaxValue - 15)
                {
                    bits[w] = (ushort)~mask.DroppedLanes(index).ExtractMostSignificantBits();
                    continue;
                }
                uint word = 0;
                for (int i = 0; i < 16 && index + i < count; i++)
                    if (mask.Draw(index + i) >= mask.Threshold) word |= 1u << i;
                bits[w] = (ushort)word;
            }
        });
    }

    /// <summary>The mask itself, one value per element (tests and references; the ops store at most its bits).</summary>
    public static void FillMask(float* mask, long count, DropoutMask dropout)
    {
        for (long i = 0; i < count; i++) mask[i] = dropout.Value(i);
    }
}
