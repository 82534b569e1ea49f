// Register-tiled SGEMM micro-kernels (AVX-512, AVX2/FMA, scalar) over packed A and B panels.
// The vector kernels are fully unrolled over the tile (written out by a generator script); keep them regular.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlhf.Tensors;

internal static unsafe partial class GemmKernels
{
    // Micro-tiles: each k step broadcasts MR values of A against NR/width vectors of B into MR·NR/width
    // accumulators. AVX-512: 12×32 = 24 zmm accumulators + 2 B vectors + 1 broadcast (of 32 registers);
    // AVX2: 6×16 = 12 ymm accumulators + 2 + 1 (of 16). The k loop is unrolled by two.
    internal const int Mr512 = 12, Nr512 = 32;

    /// <summary>True when the Vector512 kernel runs in hardware (false e.g. under DOTNET_EnableAVX512=0).</summary>
    internal static bool Avx512Supported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    internal static bool Avx2Supported => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported;

    internal const int Mr256 = 6, Nr256 = 16;
    internal const int MrScalar = 4, NrScalar = 4;

    /// <summary>12x32 tile: C = alpha*A·B + beta*C over kc steps; A packed kc×12, B packed kc×32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel512(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = Vector512<float>.Zero; Vector512<float> c0_1 = Vector512<float>.Zero;
        Vector512<float> c1_0 = Vector512<float>.Zero; Vector512<float> c1_1 = Vector512<float>.Zero;
        Vector512<float> c2_0 = Vector512<float>.Zero; Vector512<float> c2_1 = Vector512<float>.Zero;
        Vector512<float> c3_0 = Vector512<float>.Zero; Vector512<float> c3_1 = Vector512<float>.Zero;
        Vector512<float> c4_0 = Vector512<float>.Zero; Vector512<float> c4_1 = Vector512<float>.Zero;
        Vector512<float> c5_0 = Vector512<float>.Zero; Vector512<float> c5_1 = Vector512<float>.Zero;
        Vector512<float> c6_0 = Vector512<float>.Zero; Vector512<float> c6_1 = Vector512<float>.Zero;
        Vector512<float> c7_0 = Vector512<float>.Zero; Vector512<float> c7_1 = Vector512<float>.Zero;
        Vector512<float> c8_0 = Vector512<float>.Zero; Vector512<float> c8_1 = Vector512<float>.Zero;
        Vector512<float> c9_0 = Vector512<float>.Zero; Vector512<float> c9_1 = Vector512<float>.Zero;
        Vector512<float> c10_0 = Vector512<float>.Zero; Vector512<float> c10_1 = Vector512<float>.Zero;
        Vector512<float> c11_0 = Vector512<float>.Zero; Vector512<float> c11_1 = Vector512<float>.Zero;
        // Warm the C tile while the k loop runs. T1 rather than T0: rows 4 KiB apart (ldc = 1024, 3072) share
        // L1 sets, and pulling all of them into L1 would evict the B micro-panel.
        Sse.Prefetch1(c + 0 * ldc);
        Sse.Prefetch1(c + 0 * ldc + 31);
        Sse.Prefetch1(c + 1 * ldc);
        Sse.Prefetch1(c + 1 * ldc + 31);
        Sse.Prefetch1(c + 2 * ldc);
        Sse.Prefetch1(c + 2 * ldc + 31);
        Sse.Prefetch1(c + 3 * ldc);
        Sse.Prefetch1(c + 3 * ldc + 31);
        Sse.Prefetch1(c + 4 * ldc);
        Sse.Prefetch1(c + 4 * ldc + 31);
        Sse.Prefetch1(c + 5 * ldc);
        Sse.Prefetch1(c + 5 * ldc + 31);
        Sse.Prefetch1(c + 6 * ldc);
        Sse.Prefetch1(c + 6 * ldc + 31);
        Sse.Prefetch1(c + 7 * ldc);
        Sse.Prefetch1(c + 7 * ldc + 31);
        Sse.Prefetch1(c + 8 * ldc);
        Sse.Prefetch1(c + 8 * ldc + 31);
        Sse.Prefetch1(c + 9 * ldc);
        Sse.Prefetch1(c + 9 * ldc + 31);
        Sse.Prefetch1(c + 10 * ldc);
        Sse.Prefetch1(c + 10 * ldc + 31);
        Sse.Prefetch1(c + 11 * ldc);
        Sse.Prefetch1(c + 11 * ldc + 31);
        Vector512<float> ar;
        int p = 0;
        for (; p + 1 < kc; p += 2)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            ar = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(ar, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(ar, b1, c0_1);
            ar = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(ar, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(ar, b1, c1_1);
            ar = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(ar, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(ar, b1, c2_1);
            ar = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(ar, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(ar, b1, c3_1);
            ar = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(ar, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(ar, b1, c4_1);
            ar = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(ar, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(ar, b1, c5_1);
            ar = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(ar, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(ar, b1, c6_1);
            ar = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(ar, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(ar, b1, c7_1);
            ar = Vector512.Create(a[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(ar, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(ar, b1, c8_1);
            ar = Vector512.Create(a[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(ar, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(ar, b1, c9_1);
            ar = Vector512.Create(a[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(ar, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(ar, b1, c10_1);
            ar = Vector512.Create(a[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(ar, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(ar, b1, c11_1);
            b0 = Vector512.Load(b + 32);
            b1 = Vector512.Load(b + 48);
            ar = Vector512.Create(a[12]);
            c0_0 = Avx512F.FusedMultiplyAdd(ar, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(ar, b1, c0_1);
            ar = Vector512.Create(a[13]);
            c1_0 = Avx512F.FusedMultiplyAdd(ar, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(ar, b1, c1_1);
            ar = Vector512.Create(a[14]);
            c2_0 = Avx512F.FusedMultiplyAdd(ar, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(ar, b1, c2_1);
            ar = Vector512.Create(a[15]);
            c3_0 = Avx512F.FusedMultiplyAdd(ar, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(ar, b1, c3_1);
            ar = Vector512.Create(a[16]);
            c4_0 = Avx512F.FusedMultiplyAdd(ar, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(ar, b1, c4_1);
            ar = Vector512.Create(a[17]);
            c5_0 = Avx512F.FusedMultiplyAdd(ar, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(ar, b1, c5_1);
            ar = Vector512.Create(a[18]);
            c6_0 = Avx512F.FusedMultiplyAdd(ar, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(ar, b1, c6_1);
            ar = Vector512.Create(a[19]);
            c7_0 = Avx512F.FusedMultiplyAdd(ar, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(ar, b1, c7_1);
            ar = Vector512.Create(a[20]);
            c8_0 = Avx512F.FusedMultiplyAdd(ar, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(ar, b1, c8_1);
            ar = Vector512.Create(a[21]);
            c9_0 = Avx512F.FusedMultiplyAdd(ar, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(ar, b1, c9_1);
            ar = Vector512.Create(a[22]);
            c10_0 = Avx512F.FusedMultiplyAdd(ar, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(ar, b1, c10_1);
            ar = Vector512.Create(a[23]);
            c11_0 = Avx512F.FusedMultiplyAdd(ar, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(ar, b1, c11_1);
            a += 24;
            b += 64;
        }
        for (; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            ar = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(ar, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(ar, b1, c0_1);
            ar = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(ar, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(ar, b1, c1_1);
            ar = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(ar, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(ar, b1, c2_1);
            ar = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(ar, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(ar, b1, c3_1);
            ar = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(ar, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(ar, b1, c4_1);
            ar = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(ar, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(ar, b1, c5_1);
            ar = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(ar, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(ar, b1, c6_1);
            ar = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(ar, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(ar, b1, c7_1);
            ar = Vector512.Create(a[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(ar, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(ar, b1, c8_1);
            ar = Vector512.Create(a[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(ar, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(ar, b1, c9_1);
            ar = Vector512.Create(a[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(ar, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(ar, b1, c10_1);
            ar = Vector512.Create(a[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(ar, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(ar, b1, c11_1);
            a += 12;
            b += 32;
        }
        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0)
        {
            (c0_0 * va).Store(c + 0 * ldc + 0);
            (c0_1 * va).Store(c + 0 * ldc + 16);
            (c1_0 * va).Store(c + 1 * ldc + 0);
            (c1_1 * va).Store(c + 1 * ldc + 16);
            (c2_0 * va).Store(c + 2 * ldc + 0);
            (c2_1 * va).Store(c + 2 * ldc + 16);
            (c3_0 * va).Store(c + 3 * ldc + 0);
            (c3_1 * va).Store(c + 3 * ldc + 16);
            (c4_0 * va).Store(c + 4 * ldc + 0);
            (c4_1 * va).Store(c + 4 * ldc + 16);
            (c5_0 * va).Store(c + 5 * ldc + 0);
            (c5_1 * va).Store(c + 5 * ldc + 16);
            (c6_0 * va).Store(c + 6 * ldc + 0);
            (c6_1 * va).Store(c + 6 * ldc + 16);
            (c7_0 * va).Store(c + 7 * ldc + 0);
            (c7_1 * va).Store(c + 7 * ldc + 16);
            (c8_0 * va).Store(c + 8 * ldc + 0);
            (c8_1 * va).Store(c + 8 * ldc + 16);
            (c9_0 * va).Store(c + 9 * ldc + 0);
            (c9_1 * va).Store(c + 9 * ldc + 16);
            (c10_0 * va).Store(c + 10 * ldc + 0);
            (c10_1 * va).Store(c + 10 * ldc + 16);
            (c11_0 * va).Store(c + 11 * ldc + 0);
            (c11_1 * va).Store(c + 11 * ldc + 16);
        }
        else
        {
            // All loads of C before any store: rows whose stride is a multiple of 4 KiB would otherwise
            // make each load wait on the previous row's store (4K aliasing).
            if (beta == 1)
            {
                c0_0 = Avx512F.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0));
                c0_1 = Avx512F.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16));
                c1_0 = Avx512F.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0));
                c1_1 = Avx512F.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16));
                c2_0 = Avx512F.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0));
                c2_1 = Avx512F.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16));
                c3_0 = Avx512F.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0));
                c3_1 = Avx512F.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16));
                c4_0 = Avx512F.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0));
                c4_1 = Avx512F.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16));
                c5_0 = Avx512F.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0));
                c5_1 = Avx512F.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16));
                c6_0 = Avx512F.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0));
                c6_1 = Avx512F.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 16));
                c7_0 = Avx512F.FusedMultiplyAdd(c7_0, va, Vector512.Load(c + 7 * ldc + 0));
                c7_1 = Avx512F.FusedMultiplyAdd(c7_1, va, Vector512.Load(c + 7 * ldc + 16));
                c8_0 = Avx512F.FusedMultiplyAdd(c8_0, va, Vector512.Load(c + 8 * ldc + 0));
                c8_1 = Avx512F.FusedMultiplyAdd(c8_1, va, Vector512.Load(c + 8 * ldc + 16));
                c9_0 = Avx512F.FusedMultiplyAdd(c9_0, va, Vector512.Load(c + 9 * ldc + 0));
                c9_1 = Avx512F.FusedMultiplyAdd(c9_1, va, Vector512.Load(c + 9 * ldc + 16));
                c10_0 = Avx512F.FusedMultiplyAdd(c10_0, va, Vector512.Load(c + 10 * ldc + 0));
                c10_1 = Avx512F.FusedMultiplyAdd(c10_1, va, Vector512.Load(c + 10 * ldc + 16));
                c11_0 = Avx512F.FusedMultiplyAdd(c11_0, va, Vector512.Load(c + 11 * ldc + 0));
                c11_1 = Avx512F.FusedMultiplyAdd(c11_1, va, Vector512.Load(c + 11 * ldc + 16));
            }
            else
            {
                Vector512<float> vb = Vector512.Create(beta);
                c0_0 = Avx512F.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb);
                c0_1 = Avx512F.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb);
                c1_0 = Avx512F.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb);
                c1_1 = Avx512F.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb);
                c2_0 = Avx512F.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb);
                c2_1 = Avx512F.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb);
                c3_0 = Avx512F.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb);
                c3_1 = Avx512F.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb);
                c4_0 = Avx512F.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb);
                c4_1 = Avx512F.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb);
                c5_0 = Avx512F.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb);
                c5_1 = Avx512F.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16) * vb);
                c6_0 = Avx512F.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0) * vb);
                c6_1 = Avx512F.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 16) * vb);
                c7_0 = Avx512F.FusedMultiplyAdd(c7_0, va, Vector512.Load(c + 7 * ldc + 0) * vb);
                c7_1 = Avx512F.FusedMultiplyAdd(c7_1, va, Vector512.Load(c + 7 * ldc + 16) * vb);
                c8_0 = Avx512F.FusedMultiplyAdd(c8_0, va, Vector512.Load(c + 8 * ldc + 0) * vb);
                c8_1 = Avx512F.FusedMultiplyAdd(c8_1, va, Vector512.Load(c + 8 * ldc + 16) * vb);
                c9_0 = Avx512F.FusedMultiplyAdd(c9_0, va, Vector512.Load(c + 9 * ldc + 0) * vb);
                c9_1 = Avx512F.FusedMultiplyAdd(c9_1, va, Vector512.Load(c + 9 * ldc + 16) * vb);
                c10_0 = Avx512F.FusedMultiplyAdd(c10_0, va, Vector512.Load(c + 10 * ldc + 0) * vb);
                c10_1 = Avx512F.FusedMultiplyAdd(c10_1, va, Vector512.Load(c + 10 * ldc + 16) * vb);
                c11_0 = Avx512F.FusedMultiplyAdd(c11_0, va, Vector512.Load(c + 11 * ldc + 0) * vb);
                c11_1 = Avx512F.FusedMultiplyAdd(c11_1, va, Vector512.Load(c + 11 * ldc + 16) * vb);
            }
            c0_0.Store(c + 0 * ldc + 0);
            c0_1.Store(c + 0 * ldc + 16);
            c1_0.Store(c + 1 * ldc + 0);
            c1_1.Store(c + 1 * ldc + 16);
            c2_0.Store(c + 2 * ldc + 0);
            c2_1.Store(c + 2 * ldc + 16);
            c3_0.Store(c + 3 * ldc + 0);
            c3_1.Store(c + 3 * ldc + 16);
            c4_0.Store(c + 4 * ldc + 0);
            c4_1.Store(c + 4 * ldc + 16);
            c5_0.Store(c + 5 * ldc + 0);
            c5_1.Store(c + 5 * ldc + 16);
            c6_0.Store(c + 6 * ldc + 0);
            c6_1.Store(c + 6 * ldc + 16);
            c7_0.Store(c + 7 * ldc + 0);
            c7_1.Store(c + 7 * ldc + 16);
            c8_0.Store(c + 8 * ldc + 0);
            c8_1.Store(c + 8 * ldc + 16);
            c9_0.Store(c + 9 * ldc + 0);
            c9_1.Store(c + 9 * ldc + 16);
            c10_0.Store(c + 10 * ldc + 0);
            c10_1.Store(c + 10 * ldc + 16);
            c11_0.Store(c + 11 * ldc + 0);
            c11_1.Store(c + 11 * ldc + 16);
        }
    }

    /// <summary>6x16 tile: C = alpha*A·B + beta*C over kc steps; A packed kc×6, B packed kc×16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel256(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = Vector256<float>.Zero; Vector256<float> c0_1 = Vector256<float>.Zero;
        Vector256<float> c1_0 = Vector256<float>.Zero; Vector256<float> c1_1 = Vector256<float>.Zero;
        Vector256<float> c2_0 = Vector256<float>.Zero; Vector256<float> c2_1 = Vector256<float>.Zero;
        Vector256<float> c3_0 = Vector256<float>.Zero; Vector256<float> c3_1 = Vector256<float>.Zero;
        Vector256<float> c4_0 = Vector256<float>.Zero; Vector256<float> c4_1 = Vector256<float>.Zero;
        Vector256<float> c5_0 = Vector256<float>.Zero; Vector256<float> c5_1 = Vector256<float>.Zero;
        Sse.Prefetch1(c + 0 * ldc);
        Sse.Prefetch1(c + 1 * ldc);
        Sse.Prefetch1(c + 2 * ldc);
        Sse.Prefetch1(c + 3 * ldc);
        Sse.Prefetch1(c + 4 * ldc);
        Sse.Prefetch1(c + 5 * ldc);
        Vector256<float> ar;
        int p = 0;
        for (; p + 1 < kc; p += 2)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            ar = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(ar, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(ar, b1, c0_1);
            ar = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(ar, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(ar, b1, c1_1);
            ar = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(ar, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(ar, b1, c2_1);
            ar = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(ar, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(ar, b1, c3_1);
            ar = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(ar, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(ar, b1, c4_1);
            ar = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(ar, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(ar, b1, c5_1);
            b0 = Vector256.Load(b + 16);
            b1 = Vector256.Load(b + 24);
            ar = Vector256.Create(a[6]);
            c0_0 = Fma.MultiplyAdd(ar, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(ar, b1, c0_1);
            ar = Vector256.Create(a[7]);
            c1_0 = Fma.MultiplyAdd(ar, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(ar, b1, c1_1);
            ar = Vector256.Create(a[8]);
            c2_0 = Fma.MultiplyAdd(ar, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(ar, b1, c2_1);
            ar = Vector256.Create(a[9]);
            c3_0 = Fma.MultiplyAdd(ar, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(ar, b1, c3_1);
            ar = Vector256.Create(a[10]);
            c4_0 = Fma.MultiplyAdd(ar, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(ar, b1, c4_1);
            ar = Vector256.Create(a[11]);
            c5_0 = Fma.MultiplyAdd(ar, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(ar, b1, c5_1);
            a += 12;
            b += 32;
        }
        for (; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            ar = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(ar, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(ar, b1, c0_1);
            ar = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(ar, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(ar, b1, c1_1);
            ar = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(ar, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(ar, b1, c2_1);
            ar = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(ar, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(ar, b1, c3_1);
            ar = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(ar, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(ar, b1, c4_1);
            ar = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(ar, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(ar, b1, c5_1);
            a += 6;
            b += 16;
        }
        Vector256<float> va = Vector256.Create(alpha);
        if (beta == 0)
        {
            (c0_0 * va).Store(c + 0 * ldc + 0);
            (c0_1 * va).Store(c + 0 * ldc + 8);
            (c1_0 * va).Store(c + 1 * ldc + 0);
            (c1_1 * va).Store(c + 1 * ldc + 8);
            (c2_0 * va).Store(c + 2 * ldc + 0);
            (c2_1 * va).Store(c + 2 * ldc + 8);
            (c3_0 * va).Store(c + 3 * ldc + 0);
            (c3_1 * va).Store(c + 3 * ldc + 8);
            (c4_0 * va).Store(c + 4 * ldc + 0);
            (c4_1 * va).Store(c + 4 * ldc + 8);
            (c5_0 * va).Store(c + 5 * ldc + 0);
            (c5_1 * va).Store(c + 5 * ldc + 8);
        }
        else
        {
            // All loads of C before any store: rows whose stride is a multiple of 4 KiB would otherwise
            // make each load wait on the previous row's store (4K aliasing).
            if (beta == 1)
            {
                c0_0 = Fma.MultiplyAdd(c0_0, va, Vector256.Load(c + 0 * ldc + 0));
                c0_1 = Fma.MultiplyAdd(c0_1, va, Vector256.Load(c + 0 * ldc + 8));
                c1_0 = Fma.MultiplyAdd(c1_0, va, Vector256.Load(c + 1 * ldc + 0));
                c1_1 = Fma.MultiplyAdd(c1_1, va, Vector256.Load(c + 1 * ldc + 8));
                c2_0 = Fma.MultiplyAdd(c2_0, va, Vector256.Load(c + 2 * ldc + 0));
                c2_1 = Fma.MultiplyAdd(c2_1, va, Vector256.Load(c + 2 * ldc + 8));
                c3_0 = Fma.MultiplyAdd(c3_0, va, Vector256.Load(c + 3 * ldc + 0));
                c3_1 = Fma.MultiplyAdd(c3_1, va, Vector256.Load(c + 3 * ldc + 8));
                c4_0 = Fma.MultiplyAdd(c4_0, va, Vector256.Load(c + 4 * ldc + 0));
                c4_1 = Fma.MultiplyAdd(c4_1, va, Vector256.Load(c + 4 * ldc + 8));
                c5_0 = Fma.MultiplyAdd(c5_0, va, Vector256.Load(c + 5 * ldc + 0));
                c5_1 = Fma.MultiplyAdd(c5_1, va, Vector256.Load(c + 5 * ldc + 8));
            }
            else
            {
                Vector256<float> vb = Vector256.Create(beta);
                c0_0 = Fma.MultiplyAdd(c0_0, va, Vector256.Load(c + 0 * ldc + 0) * vb);
                c0_1 = Fma.MultiplyAdd(c0_1, va, Vector256.Load(c + 0 * ldc + 8) * vb);
                c1_0 = Fma.MultiplyAdd(c1_0, va, Vector256.Load(c + 1 * ldc + 0) * vb);
                c1_1 = Fma.MultiplyAdd(c1_1, va, Vector256.Load(c + 1 * ldc + 8) * vb);
                c2_0 = Fma.MultiplyAdd(c2_0, va, Vector256.Load(c + 2 * ldc + 0) * vb);
                c2_1 = Fma.MultiplyAdd(c2_1, va, Vector256.Load(c + 2 * ldc + 8) * vb);
                c3_0 = Fma.MultiplyAdd(c3_0, va, Vector256.Load(c + 3 * ldc + 0) * vb);
                c3_1 = Fma.MultiplyAdd(c3_1, va, Vector256.Load(c + 3 * ldc + 8) * vb);
                c4_0 = Fma.MultiplyAdd(c4_0, va, Vector256.Load(c + 4 * ldc + 0) * vb);
                c4_1 = Fma.MultiplyAdd(c4_1, va, Vector256.Load(c + 4 * ldc + 8) * vb);
                c5_0 = Fma.MultiplyAdd(c5_0, va, Vector256.Load(c + 5 * ldc + 0) * vb);
                c5_1 = Fma.MultiplyAdd(c5_1, va, Vector256.Load(c + 5 * ldc + 8) * vb);
            }
            c0_0.Store(c + 0 * ldc + 0);
            c0_1.Store(c + 0 * ldc + 8);
            c1_0.Store(c + 1 * ldc + 0);
            c1_1.Store(c + 1 * ldc + 8);
            c2_0.Store(c + 2 * ldc + 0);
            c2_1.Store(c + 2 * ldc + 8);
            c3_0.Store(c + 3 * ldc + 0);
            c3_1.Store(c + 3 * ldc + 8);
            c4_0.Store(c + 4 * ldc + 0);
            c4_1.Store(c + 4 * ldc + 8);
            c5_0.Store(c + 5 * ldc + 0);
            c5_1.Store(c + 5 * ldc + 8);
        }
    }

    /// <summary>4x4 scalar tile for machines without SIMD FMA; same packed layout and contract as the vector kernels.</summary>
    internal static void KernelScalar(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[MrScalar * NrScalar];
        for (int i = 0; i < MrScalar * NrScalar; i++) acc[i] = 0;
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < MrScalar; r++)
            {
                float ar = a[r];
                for (int j = 0; j < NrScalar; j++) acc[r * NrScalar + j] += ar * b[j];
            }
            a += MrScalar;
            b += NrScalar;
        }
        for (int r = 0; r < MrScalar; r++)
        {
            for (int j = 0; j < NrScalar; j++)
            {
                float* target = c + r * ldc + j;
                *target = beta == 0 ? alpha * acc[r * NrScalar + j] : alpha * acc[r * NrScalar + j] + beta * *target;
            }
        }
    }
}

