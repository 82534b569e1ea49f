# Writes src/Rlhf.Tensors/Gemm/MaskedTermKernel.cs: the AVX-512 micro-kernel that adds a dropout-masked rank-r term to one
# finished 12×32 GEMM tile (python3 tools/generate_masked_term_kernel.py).
R, W = 12, 2
out = []
w = out.append
w("""// The masked low-rank term on one finished AVX-512 GEMM tile (LoRA's dx += mask ⊙ (dlow·A) inside the base GEMM):
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
    {""")
for i in range(R):
    w("        " + " ".join(f"Vector512<float> c{i}_{j} = Vector512<float>.Zero;" for j in range(W)))
w("""        for (int p = 0; p < rank; p++)
        {
            Vector512<float> b0 = Vector512.Load(v);
            Vector512<float> b1 = Vector512.Load(v + 16);
            Vector512<float> ar;""")
for i in range(R):
    w(f"            ar = Vector512.Create(u[{i}]);")
    for j in range(W):
        w(f"            c{i}_{j} = Avx512F.FusedMultiplyAdd(ar, b{j}, c{i}_{j});")
w("""            u += 12;
            v += 32;
        }""")
for i in range(R):
    w(f"        AddMaskedRow(c + {i} * ldc, c{i}_0, c{i}_1, mask, first + {i} * stride);")
w("""    }

    /// <summary>row[0..32) += mask[index..index + 32)·(low, high).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddMaskedRow(float* row, Vector512<float> low, Vector512<float> high, in DropoutMask mask, long index)
    {
        Vector512.FusedMultiplyAdd(mask.StoredVector(index), low, Vector512.Load(row)).Store(row);
        Vector512.FusedMultiplyAdd(mask.StoredVector(index + 16), high, Vector512.Load(row + 16)).Store(row + 16);
    }
}""")
open("src/Rlhf.Tensors/Gemm/MaskedTermKernel.cs", "w").write("\n".join(out) + "\n")
