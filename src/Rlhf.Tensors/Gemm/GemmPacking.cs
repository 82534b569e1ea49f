// Packing kernels: copy blocks of op(A) and op(B) into the contiguous, zero-padded micro-panels the GEMM
// micro-kernels stream. Transposition is handled here (8×8 AVX register transposes), so kernels see one layout.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlhf.Tensors;

internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs op(A)[i0..i0+mc, p0..p0+kc] into ceil(mc/mr) panels; panel q holds rows q·mr.. as kc groups of mr
    /// floats (dest[q·kc·mr + p·mr + r]), rows past mc zero-filled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, float* a, nint lda, int i0, int p0, int mc, int kc, int mr, float* dest)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dest + (nint)ir * kc;
            if (transA) CopyRows(a + (nint)p0 * lda + i0 + ir, lda, kc, rows, mr, panel);
            else Interleave(a + (nint)(i0 + ir) * lda + p0, lda, kc, rows, mr, panel);
        }
    }

    /// <summary>
    /// Packs op(B)[p0..p0+kc, j0..j0+nc] into ceil(nc/nr) panels; panel q holds columns q·nr.. as kc rows of nr
    /// floats (dest[q·kc·nr + p·nr + c]), columns past nc zero-filled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transB, float* b, nint ldb, int p0, int j0, int kc, int nc, int nr, float* dest)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dest + (nint)jr * kc;
            if (transB) Interleave(b + (nint)(j0 + jr) * ldb + p0, ldb, kc, cols, nr, panel);
            else CopyRows(b + (nint)p0 * ldb + j0 + jr, ldb, kc, cols, nr, panel);
        }
    }

    /// <summary>dest[p·width + r] = src[p·ld + r] for r &lt; count, zero for count ≤ r &lt; width.</summary>
    private static void CopyRows(float* src, nint ld, int kc, int count, int width, float* dest)
    {
        if (count == width && width % 4 == 0)
        {
            for (int p = 0; p < kc; p++)
            {
                float* s = src + p * ld;
                float* d = dest + p * width;
                int r = 0;
                for (; r + 8 <= width; r += 8) Vector256.Store(Vector256.Load(s + r), d + r);
                for (; r < width; r += 4) Vector128.Store(Vector128.Load(s + r), d + r);
            }
            return;
        }
        for (int p = 0; p < kc; p++)
        {
            float* s = src + p * ld;
            float* d = dest + p * width;
            int r = 0;
            for (; r < count; r++) d[r] = s[r];
            for (; r < width; r++) d[r] = 0;
        }
    }

    /// <summary>
    /// dest[p·width + r] = src[r·ld + p] for r &lt; count (zero for count ≤ r &lt; width): <paramref name="count"/>
    /// source rows, contiguous along p, interleaved into a panel. Groups of 8 (or 4) rows go through 8×8 transposes.
    /// </summary>
    private static void Interleave(float* src, nint ld, int kc, int count, int width, float* dest)
    {
        int r0 = 0;
        if (Avx.IsSupported)
        {
            for (; r0 + 4 <= count; r0 += 8)
            {
                bool half = r0 + 8 > count;
                float* s = src + r0 * ld;
                int p = 0;
                for (; p + 8 <= kc; p += 8) Transpose8x8(s + p, ld, half, dest + p * width + r0, width);
                for (; p < kc; p++)
                    for (int r = 0; r < (half ? 4 : 8); r++) dest[p * width + r0 + r] = s[r * ld + p];
                if (half)
                {
                    r0 += 4;
                    break;
                }
            }
        }
        for (int r = r0; r < width; r++)
        {
            float* d = dest + r;
            if (r < count)
            {
                float* s = src + r * ld;
                for (int p = 0; p < kc; p++) d[p * width] = s[p];
            }
            else
            {
                for (int p = 0; p < kc; p++) d[p * width] = 0;
            }
        }
    }

    /// <summary>Transposes an 8×8 (or, when half, 4×8) block: row i of the output (8 or 4 floats) to dest + i·width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, nint ld, bool half, float* dest, int width)
    {
        Vector256<float> r0 = Avx.LoadVector256(s), r1 = Avx.LoadVector256(s + ld);
        Vector256<float> r2 = Avx.LoadVector256(s + 2 * ld), r3 = Avx.LoadVector256(s + 3 * ld);
        Vector256<float> r4, r5, r6, r7;
        if (half)
        {
            r4 = r5 = r6 = r7 = Vector256<float>.Zero;
        }
        else
        {
            r4 = Avx.LoadVector256(s + 4 * ld);
            r5 = Avx.LoadVector256(s + 5 * ld);
            r6 = Avx.LoadVector256(s + 6 * ld);
            r7 = Avx.LoadVector256(s + 7 * ld);
        }
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        if (half)
        {
            // Only rows 0..3 are real: the low 128 bits of u_i hold p = i, the high ones p = i + 4.
            Sse.Store(dest, u0.GetLower());
            Sse.Store(dest + width, u1.GetLower());
            Sse.Store(dest + 2 * width, u2.GetLower());
            Sse.Store(dest + 3 * width, u3.GetLower());
            Sse.Store(dest + 4 * width, u0.GetUpper());
            Sse.Store(dest + 5 * width, u1.GetUpper());
            Sse.Store(dest + 6 * width, u2.GetUpper());
            Sse.Store(dest + 7 * width, u3.GetUpper());
            return;
        }
        Avx.Store(dest, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dest + width, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dest + 2 * width, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dest + 3 * width, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dest + 4 * width, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dest + 5 * width, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dest + 6 * width, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dest + 7 * width, Avx.Permute2x128(u3, u7, 0x31));
    }
}
