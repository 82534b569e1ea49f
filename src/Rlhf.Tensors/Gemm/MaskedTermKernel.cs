// The masked low-rank term on one finished AVX-512 GEMM tile (LoRA's dx += mask ⊙ (dlow·A) inside the base GEMM):
// C[i, j] += mask[first + i·stride + j]·Σ_p u[p][i]·v[p][j] over the kernel's packed panels (u [r][12], v [r][32]), the
// product kept in registers and the mask read from its stored bits (32 per row from one 64-bit window). Same sums in the
// same order as Kernel512 with k = r, then the same fused multiply-add as LowRankTerm.AddRow: bit-identical results.
// Generated (tools/generate_masked_term_kernel.py); keep regular.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlhf.Tensors;

internal static unsafe partial class GemmKernels
{
    private static readonly Vector512<uint> TermLaneBits =
        Vector512.Create(1u, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);

    /// <summary>
    /// C[0..12, 0..32] += mask ⊙ (u·v) with u, v packed as Kernel512's A and B panels of depth <paramref name="rank"/>;
    /// bit (first + i·stride + j) of <paramref name="keptBits"/> (1 = kept) selects <paramref name="keepScale"/> or 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MaskedTerm512(int rank, float* u, float* v, float* c, nint ldc, ushort* keptBits, long first, long stride, float keepScale)
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
        for (int p = 0; p < rank; p++)
        {
            Vector512<float> b0 = Vector512.Load(v);
            Vector512<float> b1 = Vector512.Load(v + 16);
            Vector512<float> ar;
            ar = Vector512.Create(u[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(ar, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(ar, b1, c0_1);
            ar = Vector512.Create(u[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(ar, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(ar, b1, c1_1);
            ar = Vector512.Create(u[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(ar, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(ar, b1, c2_1);
            ar = Vector512.Create(u[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(ar, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(ar, b1, c3_1);
            ar = Vector512.Create(u[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(ar, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(ar, b1, c4_1);
            ar = Vector512.Create(u[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(ar, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(ar, b1, c5_1);
            ar = Vector512.Create(u[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(ar, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(ar, b1, c6_1);
            ar = Vector512.Create(u[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(ar, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(ar, b1, c7_1);
            ar = Vector512.Create(u[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(ar, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(ar, b1, c8_1);
            ar = Vector512.Create(u[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(ar, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(ar, b1, c9_1);
            ar = Vector512.Create(u[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(ar, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(ar, b1, c10_1);
            ar = Vector512.Create(u[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(ar, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(ar, b1, c11_1);
            u += 12;
            v += 32;
        }
        var keep = Vector512.Create(keepScale);
        AddMaskedRow(c + 0 * ldc, c0_0, c0_1, keptBits, first + 0 * stride, keep);
        AddMaskedRow(c + 1 * ldc, c1_0, c1_1, keptBits, first + 1 * stride, keep);
        AddMaskedRow(c + 2 * ldc, c2_0, c2_1, keptBits, first + 2 * stride, keep);
        AddMaskedRow(c + 3 * ldc, c3_0, c3_1, keptBits, first + 3 * stride, keep);
        AddMaskedRow(c + 4 * ldc, c4_0, c4_1, keptBits, first + 4 * stride, keep);
        AddMaskedRow(c + 5 * ldc, c5_0, c5_1, keptBits, first + 5 * stride, keep);
        AddMaskedRow(c + 6 * ldc, c6_0, c6_1, keptBits, first + 6 * stride, keep);
        AddMaskedRow(c + 7 * ldc, c7_0, c7_1, keptBits, first + 7 * stride, keep);
        AddMaskedRow(c + 8 * ldc, c8_0, c8_1, keptBits, first + 8 * stride, keep);
        AddMaskedRow(c + 9 * ldc, c9_0, c9_1, keptBits, first + 9 * stride, keep);
        AddMaskedRow(c + 10 * ldc, c10_0, c10_1, keptBits, first + 10 * stride, keep);
        AddMaskedRow(c + 11 * ldc, c11_0, c11_1, keptBits, first + 11 * stride, keep);
    }

    /// <summary>row[0..32) += mask·(low, high), the mask's 32 bits from element index on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddMaskedRow(float* row, Vector512<float> low, Vector512<float> high, ushort* keptBits, long index, Vector512<float> keep)
    {
        ulong window = Unsafe.ReadUnaligned<ulong>((byte*)keptBits + (index >> 3));
        uint bits = (uint)(window >> (int)(index & 7));
        var dropped0 = Vector512.Equals(Vector512.Create(bits & 0xFFFF) & TermLaneBits, Vector512<uint>.Zero).AsSingle();
        var dropped1 = Vector512.Equals(Vector512.Create(bits >> 16) & TermLaneBits, Vector512<uint>.Zero).AsSingle();
        Vector512.FusedMultiplyAdd(Vector512.ConditionalSelect(dropped0, Vector512<float>.Zero, keep), low, Vector512.Load(row)).Store(row);
        Vector512.FusedMultiplyAdd(Vector512.ConditionalSelect(dropped1, Vector512<float>.Zero, keep), high, Vector512.Load(row + 16)).Store(row + 16);
    }
}
