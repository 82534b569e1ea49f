// The thin products of a LoRA adapter as register-tiled kernels with the rank in the vector lanes (r ≤ 16 per pass,
// one Vector512 per row): twelve rows of the wide operand are broadcast one element at a time against a row of the
// r-wide operand, so every load feeds twelve FMAs and no horizontal sums are needed. Generated (tools/generate_lowrank_tiles.py); keep regular.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe partial class LowRankKernels
{
    /// <summary>Rows per tile of the kernels below.</summary>
    private const int TileRows = 12;

    /// <summary>
    /// result[i·resultStride + (0..16)] = Σ_k x[i·xStride + k]·m[k·mStride + (0..16)] for i &lt; 12 over k &lt; depth:
    /// twelve rows of x against sixteen lanes of m (e.g. low = drop(x)·Aᵀ with m = Aᵀ, dlow = g·(s·B) with m = s·B);
    /// with <paramref name="accumulate"/> the sums are added to result.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsTimesThin(float* x, nint xStride, float* m, nint mStride, int depth, float* result, nint resultStride, bool accumulate)
    {
        Vector512<float> c0 = default; Vector512<float> c1 = default; Vector512<float> c2 = default; Vector512<float> c3 = default; Vector512<float> c4 = default; Vector512<float> c5 = default; Vector512<float> c6 = default; Vector512<float> c7 = default; Vector512<float> c8 = default; Vector512<float> c9 = default; Vector512<float> c10 = default; Vector512<float> c11 = default;
        if (accumulate)
        {
            c0 = Vector512.Load(result + 0 * resultStride);
            c1 = Vector512.Load(result + 1 * resultStride);
            c2 = Vector512.Load(result + 2 * resultStride);
            c3 = Vector512.Load(result + 3 * resultStride);
            c4 = Vector512.Load(result + 4 * resultStride);
            c5 = Vector512.Load(result + 5 * resultStride);
            c6 = Vector512.Load(result + 6 * resultStride);
            c7 = Vector512.Load(result + 7 * resultStride);
            c8 = Vector512.Load(result + 8 * resultStride);
            c9 = Vector512.Load(result + 9 * resultStride);
            c10 = Vector512.Load(result + 10 * resultStride);
            c11 = Vector512.Load(result + 11 * resultStride);
        }
        float* x0 = x + 0 * xStride; float* x1 = x + 1 * xStride; float* x2 = x + 2 * xStride; float* x3 = x + 3 * xStride; float* x4 = x + 4 * xStride; float* x5 = x + 5 * xStride; float* x6 = x + 6 * xStride; float* x7 = x + 7 * xStride; float* x8 = x + 8 * xStride; float* x9 = x + 9 * xStride; float* x10 = x + 10 * xStride; float* x11 = x + 11 * xStride;
        for (int k = 0; k < depth; k++)
        {
            var v = Vector512.Load(m + k * mStride);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[k]), v, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[k]), v, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[k]), v, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[k]), v, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(x4[k]), v, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(x5[k]), v, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(x6[k]), v, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(x7[k]), v, c7);
            c8 = Vector512.FusedMultiplyAdd(Vector512.Create(x8[k]), v, c8);
            c9 = Vector512.FusedMultiplyAdd(Vector512.Create(x9[k]), v, c9);
            c10 = Vector512.FusedMultiplyAdd(Vector512.Create(x10[k]), v, c10);
            c11 = Vector512.FusedMultiplyAdd(Vector512.Create(x11[k]), v, c11);
        }
        c0.Store(result + 0 * resultStride);
        c1.Store(result + 1 * resultStride);
        c2.Store(result + 2 * resultStride);
        c3.Store(result + 3 * resultStride);
        c4.Store(result + 4 * resultStride);
        c5.Store(result + 5 * resultStride);
        c6.Store(result + 6 * resultStride);
        c7.Store(result + 7 * resultStride);
        c8.Store(result + 8 * resultStride);
        c9.Store(result + 9 * resultStride);
        c10.Store(result + 10 * resultStride);
        c11.Store(result + 11 * resultStride);
    }

    /// <summary>
    /// One pass over twelve rows of g [·, depth] for both of its thin products: dlow[i] = Σ_o g[i, o]·sb[o] (stored to
    /// dlow[i·dlowStride]) and partial[o] += Σ_i g[i, o]·low[i] (low[i] read from low + i·lowStride), sixteen lanes each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradientTile(float* g, nint gStride, float* sb, float* low, nint lowStride, float* partial, nint stride, int depth,
        float* dlow, nint dlowStride)
    {
        Vector512<float> d0 = default; Vector512<float> d1 = default; Vector512<float> d2 = default; Vector512<float> d3 = default; Vector512<float> d4 = default; Vector512<float> d5 = default; Vector512<float> d6 = default; Vector512<float> d7 = default; Vector512<float> d8 = default; Vector512<float> d9 = default; Vector512<float> d10 = default; Vector512<float> d11 = default;
        var l0 = Vector512.Load(low + 0 * lowStride); var l1 = Vector512.Load(low + 1 * lowStride); var l2 = Vector512.Load(low + 2 * lowStride); var l3 = Vector512.Load(low + 3 * lowStride); var l4 = Vector512.Load(low + 4 * lowStride); var l5 = Vector512.Load(low + 5 * lowStride); var l6 = Vector512.Load(low + 6 * lowStride); var l7 = Vector512.Load(low + 7 * lowStride); var l8 = Vector512.Load(low + 8 * lowStride); var l9 = Vector512.Load(low + 9 * lowStride); var l10 = Vector512.Load(low + 10 * lowStride); var l11 = Vector512.Load(low + 11 * lowStride);
        float* g0 = g + 0 * gStride; float* g1 = g + 1 * gStride; float* g2 = g + 2 * gStride; float* g3 = g + 3 * gStride; float* g4 = g + 4 * gStride; float* g5 = g + 5 * gStride; float* g6 = g + 6 * gStride; float* g7 = g + 7 * gStride; float* g8 = g + 8 * gStride; float* g9 = g + 9 * gStride; float* g10 = g + 10 * gStride; float* g11 = g + 11 * gStride;
        for (int o = 0; o < depth; o++)
        {
            var v = Vector512.Load(sb + o * stride);
            // Four independent sums (rows i ≡ 0, 1, 2, 3 mod 4): a chain of twelve dependent FMAs would stall on their latency.
            var p0 = Vector512.Load(partial + o * stride); var p1 = Vector512<float>.Zero; var p2 = Vector512<float>.Zero; var p3 = Vector512<float>.Zero;
            var b0 = Vector512.Create(g0[o]); d0 = Vector512.FusedMultiplyAdd(b0, v, d0); p0 = Vector512.FusedMultiplyAdd(b0, l0, p0);
            var b1 = Vector512.Create(g1[o]); d1 = Vector512.FusedMultiplyAdd(b1, v, d1); p1 = Vector512.FusedMultiplyAdd(b1, l1, p1);
            var b2 = Vector512.Create(g2[o]); d2 = Vector512.FusedMultiplyAdd(b2, v, d2); p2 = Vector512.FusedMultiplyAdd(b2, l2, p2);
            var b3 = Vector512.Create(g3[o]); d3 = Vector512.FusedMultiplyAdd(b3, v, d3); p3 = Vector512.FusedMultiplyAdd(b3, l3, p3);
            var b4 = Vector512.Create(g4[o]); d4 = Vector512.FusedMultiplyAdd(b4, v, d4); p0 = Vector512.FusedMultiplyAdd(b4, l4, p0);
            var b5 = Vector512.Create(g5[o]); d5 = Vector512.FusedMultiplyAdd(b5, v, d5); p1 = Vector512.FusedMultiplyAdd(b5, l5, p1);
            var b6 = Vector512.Create(g6[o]); d6 = Vector512.FusedMultiplyAdd(b6, v, d6); p2 = Vector512.FusedMultiplyAdd(b6, l6, p2);
            var b7 = Vector512.Create(g7[o]); d7 = Vector512.FusedMultiplyAdd(b7, v, d7); p3 = Vector512.FusedMultiplyAdd(b7, l7, p3);
            var b8 = Vector512.Create(g8[o]); d8 = Vector512.FusedMultiplyAdd(b8, v, d8); p0 = Vector512.FusedMultiplyAdd(b8, l8, p0);
            var b9 = Vector512.Create(g9[o]); d9 = Vector512.FusedMultiplyAdd(b9, v, d9); p1 = Vector512.FusedMultiplyAdd(b9, l9, p1);
            var b10 = Vector512.Create(g10[o]); d10 = Vector512.FusedMultiplyAdd(b10, v, d10); p2 = Vector512.FusedMultiplyAdd(b10, l10, p2);
            var b11 = Vector512.Create(g11[o]); d11 = Vector512.FusedMultiplyAdd(b11, v, d11); p3 = Vector512.FusedMultiplyAdd(b11, l11, p3);
            ((p0 + p1) + (p2 + p3)).Store(partial + o * stride);
        }
        d0.Store(dlow + 0 * dlowStride);
        d1.Store(dlow + 1 * dlowStride);
        d2.Store(dlow + 2 * dlowStride);
        d3.Store(dlow + 3 * dlowStride);
        d4.Store(dlow + 4 * dlowStride);
        d5.Store(dlow + 5 * dlowStride);
        d6.Store(dlow + 6 * dlowStride);
        d7.Store(dlow + 7 * dlowStride);
        d8.Store(dlow + 8 * dlowStride);
        d9.Store(dlow + 9 * dlowStride);
        d10.Store(dlow + 10 * dlowStride);
        d11.Store(dlow + 11 * dlowStride);
    }

    /// <summary>
    /// partial[k·stride + (0..16)] += Σ_i x[i·xStride + k]·l[i·lStride + (0..16)] for k &lt; depth over twelve rows
    /// (e.g. dAᵀ += drop(x)ᵀ·dlow, dB += gᵀ·low).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OuterAccumulate(float* x, nint xStride, float* l, nint lStride, float* partial, nint stride, int depth)
    {
        var l0 = Vector512.Load(l + 0 * lStride); var l1 = Vector512.Load(l + 1 * lStride); var l2 = Vector512.Load(l + 2 * lStride); var l3 = Vector512.Load(l + 3 * lStride); var l4 = Vector512.Load(l + 4 * lStride); var l5 = Vector512.Load(l + 5 * lStride); var l6 = Vector512.Load(l + 6 * lStride); var l7 = Vector512.Load(l + 7 * lStride); var l8 = Vector512.Load(l + 8 * lStride); var l9 = Vector512.Load(l + 9 * lStride); var l10 = Vector512.Load(l + 10 * lStride); var l11 = Vector512.Load(l + 11 * lStride);
        float* x0 = x + 0 * xStride; float* x1 = x + 1 * xStride; float* x2 = x + 2 * xStride; float* x3 = x + 3 * xStride; float* x4 = x + 4 * xStride; float* x5 = x + 5 * xStride; float* x6 = x + 6 * xStride; float* x7 = x + 7 * xStride; float* x8 = x + 8 * xStride; float* x9 = x + 9 * xStride; float* x10 = x + 10 * xStride; float* x11 = x + 11 * xStride;
        for (int k = 0; k < depth; k++)
        {
            var p0 = Vector512.Load(partial + k * stride); var p1 = Vector512<float>.Zero; var p2 = Vector512<float>.Zero; var p3 = Vector512<float>.Zero;
            p0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[k]), l0, p0);
            p1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[k]), l1, p1);
            p2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[k]), l2, p2);
            p3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[k]), l3, p3);
            p0 = Vector512.FusedMultiplyAdd(Vector512.Create(x4[k]), l4, p0);
            p1 = Vector512.FusedMultiplyAdd(Vector512.Create(x5[k]), l5, p1);
            p2 = Vector512.FusedMultiplyAdd(Vector512.Create(x6[k]), l6, p2);
            p3 = Vector512.FusedMultiplyAdd(Vector512.Create(x7[k]), l7, p3);
            p0 = Vector512.FusedMultiplyAdd(Vector512.Create(x8[k]), l8, p0);
            p1 = Vector512.FusedMultiplyAdd(Vector512.Create(x9[k]), l9, p1);
            p2 = Vector512.FusedMultiplyAdd(Vector512.Create(x10[k]), l10, p2);
            p3 = Vector512.FusedMultiplyAdd(Vector512.Create(x11[k]), l11, p3);
            ((p0 + p1) + (p2 + p3)).Store(partial + k * stride);
        }
    }
}
