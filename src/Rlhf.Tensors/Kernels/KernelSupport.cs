// Shared helpers for the elementwise kernels: parallel chunking of flat ranges and SIMD primitives
// (add, accumulate, horizontal sums, tanh) used by several kernel files.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class KernelSupport
{
    /// <summary>Floats per parallel work item for flat elementwise kernels.</summary>
    public const int ElementChunk = 1 << 14;

    /// <summary>Runs body(start, end) over [0, count) split into fixed chunks spread over the worker threads.</summary>
    public static void ForElements(long count, Action<long, long> body)
    {
        if (count <= 0) return;
        long chunks = (count + ElementChunk - 1) / ElementChunk;
        if (chunks <= 2 || chunks > int.MaxValue)
        {
            body(0, count);
            return;
        }
        Parallelism.For((int)chunks, 2, (s, e) => body((long)s * ElementChunk, Math.Min(count, (long)e * ElementChunk)));
    }

    /// <summary>A pinned (never moved) scratch array of at least <paramref name="length"/> floats, reused when large enough.</summary>
    public static float* Scratch(ref float[]? cache, long length)
    {
        if (cache == null || cache.Length < length)
            cache = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(length, 16)), pinned: true);
        return (float*)Unsafe.AsPointer(ref cache[0]);
    }

    /// <summary>dst[i] = a[i] + b[i] for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(float* dst, float* a, float* b, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                Vector512.Store(Vector512.Load(a + i) + Vector512.Load(b + i), dst + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
                Vector256.Store(Vector256.Load(a + i) + Vector256.Load(b + i), dst + i);
        }
        for (; i < n; i++) dst[i] = a[i] + b[i];
    }

    /// <summary>dst[i] += src[i] for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddInPlace(float* dst, float* src, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                Vector512.Store(Vector512.Load(dst + i) + Vector512.Load(src + i), dst + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
                Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        }
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>tanh(u) = 1 - 2 / (exp(2u) + 1), with |u| clamped to 15 (where tanh is ±1 in float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> u)
    {
        var one = Vector512.Create(1f);
        var two = Vector512.Create(2f);
        var e = VectorMath.Exp(Vector512.Clamp(u, Vector512.Create(-15f), Vector512.Create(15f)) * two);
        return one - two / (e + one);
    }

    /// <inheritdoc cref="Tanh(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> u)
    {
        var one = Vector256.Create(1f);
        var two = Vector256.Create(2f);
        var e = VectorMath.Exp(Vector256.Clamp(u, Vector256.Create(-15f), Vector256.Create(15f)) * two);
        return one - two / (e + one);
    }
}
