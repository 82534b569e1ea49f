# Writes src/Rlhf.Tensors/Kernels/LowRankTiles.cs: LoRA's thin products as twelve-row register tiles (python3 tools/generate_lowrank_tiles.py).
R=12
def vec(n): return ", ".join(n)
out=[]
w=out.append
w("""// The thin products of a LoRA adapter as register-tiled kernels with the rank in the vector lanes (r ≤ 16 per pass,
// one Vector512 per row): twelve rows of the wide operand are broadcast one element at a time against a row of the
// r-wide operand, so every load feeds twelve FMAs and no horizontal sums are needed. Generated (tools/generate_lowrank_tiles.py); keep regular.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe partial class LowRankKernels
{
    /// <summary>Rows per tile of the kernels below.</summary>
    private const int TileRows = 12;
""")
# (1) RowsTimesThin
w("""    /// <summary>
    /// result[i·resultStride + (0..16)] = Σ_k x[i·xStride + k]·m[k·mStride + (0..16)] for i &lt; 12 over k &lt; depth:
    /// twelve rows of x against sixteen lanes of m (e.g. low = drop(x)·Aᵀ with m = Aᵀ, dlow = g·(s·B) with m = s·B);
    /// with <paramref name=\"accumulate\"/> the sums are added to result.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsTimesThin(float* x, nint xStride, float* m, nint mStride, int depth, float* result, nint resultStride, bool accumulate)
    {""")
w("        " + " ".join(f"Vector512<float> c{i} = default;" for i in range(R)))
w("        if (accumulate)")
w("        {")
for i in range(R): w(f"            c{i} = Vector512.Load(result + {i} * resultStride);")
w("        }")
w("        " + " ".join(f"float* x{i} = x + {i} * xStride;" for i in range(R)))
w("""        for (int k = 0; k < depth; k++)
        {
            var v = Vector512.Load(m + k * mStride);""")
for i in range(R):
    w(f"            c{i} = Vector512.FusedMultiplyAdd(Vector512.Create(x{i}[k]), v, c{i});")
w("        }")
for i in range(R):
    w(f"        c{i}.Store(result + {i} * resultStride);")
w("    }\n")
# (2) fused g pass
w("""    /// <summary>
    /// One pass over twelve rows of g [·, depth] for both of its thin products: dlow[i] = Σ_o g[i, o]·sb[o] (stored to
    /// dlow[i·dlowStride]) and partial[o] += Σ_i g[i, o]·low[i] (low[i] read from low + i·lowStride), sixteen lanes each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradientTile(float* g, nint gStride, float* sb, float* low, nint lowStride, float* partial, nint stride, int depth,
        float* dlow, nint dlowStride)
    {""")
w("        " + " ".join(f"Vector512<float> d{i} = default;" for i in range(R)))
w("        " + " ".join(f"var l{i} = Vector512.Load(low + {i} * lowStride);" for i in range(R)))
w("        " + " ".join(f"float* g{i} = g + {i} * gStride;" for i in range(R)))
w("""        for (int o = 0; o < depth; o++)
        {
            var v = Vector512.Load(sb + o * stride);
            // Four independent sums (rows i ≡ 0, 1, 2, 3 mod 4): a chain of twelve dependent FMAs would stall on their latency.
            var p0 = Vector512.Load(partial + o * stride); var p1 = Vector512<float>.Zero; var p2 = Vector512<float>.Zero; var p3 = Vector512<float>.Zero;""")
for i in range(R):
    w(f"            var b{i} = Vector512.Create(g{i}[o]); d{i} = Vector512.FusedMultiplyAdd(b{i}, v, d{i}); p{i%4} = Vector512.FusedMultiplyAdd(b{i}, l{i}, p{i%4});")
w("            ((p0 + p1) + (p2 + p3)).Store(partial + o * stride);")
w("        }")
for i in range(R):
    w(f"        d{i}.Store(dlow + {i} * dlowStride);")
w("    }\n")
# (3) outer accumulate
w("""    /// <summary>
    /// partial[k·stride + (0..16)] += Σ_i x[i·xStride + k]·l[i·lStride + (0..16)] for k &lt; depth over twelve rows
    /// (e.g. dAᵀ += drop(x)ᵀ·dlow, dB += gᵀ·low).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OuterAccumulate(float* x, nint xStride, float* l, nint lStride, float* partial, nint stride, int depth)
    {""")
w("        " + " ".join(f"var l{i} = Vector512.Load(l + {i} * lStride);" for i in range(R)))
w("        " + " ".join(f"float* x{i} = x + {i} * xStride;" for i in range(R)))
w("""        for (int k = 0; k < depth; k++)
        {
            var p0 = Vector512.Load(partial + k * stride); var p1 = Vector512<float>.Zero; var p2 = Vector512<float>.Zero; var p3 = Vector512<float>.Zero;""")
for i in range(R):
    w(f"            p{i%4} = Vector512.FusedMultiplyAdd(Vector512.Create(x{i}[k]), l{i}, p{i%4});")
w("            ((p0 + p1) + (p2 + p3)).Store(partial + k * stride);")
w("        }")
w("    }")
w("}")
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'Rlhf.Tensors', 'Kernels', 'LowRankTiles.cs'), 'w').write("\n".join(out)+"\n")
