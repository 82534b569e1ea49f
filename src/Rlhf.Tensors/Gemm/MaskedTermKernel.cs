// The masked low-rank term on one finished AVX-512 GEMM tile (LoRA's dx += mask ⊙ (dlow·A) inside the base GEMM):
// C[i, j] += mask[first + i·stride + j]·Σ_p u[p][i]·v[p][j] over the kernel's packed panels (u [r][12], v [r][32]), the
// product kept in registers and the mask read from its stored bits (DropoutMask.StoredVector). Same sums in the same order as
// Kernel512 with k = r, then the same fused multiply-add as LowRankTerm.AddRow: bit-identical results.
// Generated (tools/generate_masked_term_kernel.py); keep regular.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

internal static unsafe partial class GemmKernels
{
    /// <summary>
    /// C[0..12, 0..32] += mask ⊙ (u·v) with u, v packed as Kernel512's A and B panels of depth <paramref name="rank"/>;
    /// element (i, j) is multiplied by mask element first + i·stride + j (a stored mask: its bits are read, not hashed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MaskedTerm512(int rank, float* u, float* v, float* c, nint ldc, in DropoutMask mask, long first, long stride)
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
        AddMaskedRow(c + 0 * ldc, c0_0, c0_1, mask, first + 0 * stride);
        AddMaskedRow(c + 1 * ldc, c1_0, c1_1, mask, first + 1 * stride);
        AddMaskedRow(c + 2 * ldc, c2_0, c2_1, mask, first + 2 * stride);
        AddMaskedRow(c + 3 * ldc, c3_0, c3_1, mask, first + 3 * stride);
        AddMaskedRow(c + 4 * ldc, c4_0, c4_1, mask, first + 4 * stride);
        AddMaskedRow(c + 5 * ldc, c5_0, c5_1, mask, first + 5 * stride);
        AddMaskedRow(c + 6 * ldc, c6_0, c6_1, mask, first + 6 * stride);
        AddMaskedRow(c + 7 * ldc, c7_0, c7_1, mask, first + 7 * stride);
        AddMaskedRow(c + 8 * ldc, c8_0, c8_1, mask, first + 8 * stride);
        AddMaskedRow(c + 9 * ldc, c9_0, c9_1, mask, first + 9 * stride);
        AddMaskedRow(c + 10 * ldc, c10_0, c10_1, mask, first + 10 * stride);
        AddMaskedRow(c + 11 * ldc, c11_0, c11_1, mask, first + 11 * stride);
    }

    /// <summary>row[0..32) += mask[index..index + 32)·(low, high).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddMaskedRow(float* row, Vector512<float> low, Vector512<float> high, in DropoutMask mask, long index)
    {
        Vector512.FusedMultiplyAdd(mask.StoredVector(index), low, Vector512.Load(row)).Store(row);
        Vector512.FusedMultiplyAdd(mask.StoredVector(index + 16), high, Vector512.Load(row + 16)).Store(row + 16);
    }
}
