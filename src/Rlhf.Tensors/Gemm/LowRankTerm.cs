// A rank-r term a GEMM adds to its result as each output tile is finished (LoRA's B·A fused into the base linear's
// products): C[i, j] += mask[i·stride + j]·Σ_p u[i, p]·v[p, j]. In the managed GEMM the term is one more K = r
// micro-kernel call on the tile while it is in L1; other providers add it afterwards (same values, one more pass).
using System.Runtime.Intrinsics;
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

/// <param name="u">u [m, r] (row stride <paramref name="ldu"/>).</param>
/// <param name="v">v [r, n] (row stride <paramref name="ldv"/>).</param>
/// <param name="mask">Multiplies each element of the term (not of the product it is added to); disabled: 1.</param>
/// <param name="maskStride">Element (i, j) of C is mask element i·stride + j.</param>
internal readonly unsafe struct LowRankTerm(float* u, int ldu, float* v, int ldv, int rank, DropoutMask mask, long maskStride)
{
    public float* U { get; } = u;
    public int Ldu { get; } = ldu;
    public float* V { get; } = v;
    public int Ldv { get; } = ldv;
    public int Rank { get; } = rank;
    public DropoutMask Mask { get; } = mask;
    public long MaskStride { get; } = maskStride;

    [ThreadStatic] private static float[]? productScratch;

    /// <summary>C[i, j] += mask·(u·v)[i, j] over [m, n], as a separate pass (providers without the fused term).</summary>
    public void AddTo(float* c, int ldc, int m, int n)
    {
        if (m <= 0 || n <= 0 || Rank <= 0) return;
        float* product = KernelSupport.Scratch(ref productScratch, (long)m * n);
        Gemm.Sgemm(false, false, m, n, Rank, 1f, U, Ldu, V, Ldv, 0f, product, n);
        var term = this;
        Parallelism.For(m, 16, (first, last) =>
        {
            for (int i = first; i < last; i++) term.AddRow(c + (long)i * ldc, product + (long)i * n, i, 0, n);
        });
    }

    /// <summary>row[0..count) += mask[i·stride + j0 + j]·values[j]: one row of C from column j0.</summary>
    public void AddRow(float* row, float* values, int i, int j0, int count)
    {
        long first = i * MaskStride + j0;
        int j = 0;
        if (!Mask.Enabled)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; j <= count - 16; j += 16) (Vector512.Load(row + j) + Vector512.Load(values + j)).Store(row + j);
            for (; j < count; j++) row[j] += values[j];
            return;
        }
        if (Vector512.IsHardwareAccelerated)
            for (; j <= count - 16; j += 16) Vector512.FusedMultiplyAdd(Mask.Vector(first + j), Vector512.Load(values + j), Vector512.Load(row + j)).Store(row + j);
        for (; j < count; j++) row[j] = MathF.FusedMultiplyAdd(Mask.Value(first + j), values[j], row[j]);
    }
}
