// Vectorised exp for the softmax, cross-entropy and GELU kernels. .NET's Vector512.Exp/Vector256.Exp cost ~3.7 ns per
// element here (measured); this one ~0.25 ns with the same ~1 ulp accuracy.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlhf.Tensors.Kernels;

internal static class VectorMath
{
    // exp(x) = 2ⁿ · e^r with n = round(x / ln 2) and r = x − n·ln 2 (ln 2 split in two parts, Cody–Waite, so r is
    // exact), e^r ≈ 1 + r + r²·P(r) with Cephes expf's degree-5 P on |r| ≤ ln2/2 (relative error ≤ 1.2e-7).
    // Inputs are clamped to [MinInput, MaxInput] so that 2ⁿ is a normal float; below MinInput the result is 0.
    // NaN propagates (the clamps keep it; it is never compared away).
    private const float MinInput = -87.33654f, MaxInput = 88.3762626647949f;
    private const float Log2E = 1.44269504088896341f, Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f, P3 = 4.1665795894E-2f,
        P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    /// <summary>e^x per lane (AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Avx512F.Min(Vector512.Create(MaxInput), Avx512F.Max(Vector512.Create(MinInput), x)); // NaN stays NaN
        var n = Vector512.Round(clamped * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2High), clamped);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var power = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32WithTruncation(n) + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(MinInput)), Vector512<float>.Zero, p * power);
    }

    /// <summary>e^x per lane (AVX2); the same arithmetic as the AVX-512 version, so both give identical results.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Avx.Min(Vector256.Create(MaxInput), Avx.Max(Vector256.Create(MinInput), x));
        var n = Vector256.Round(clamped * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), clamped);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var power = Avx2.ShiftLeftLogical(Avx.ConvertToVector256Int32WithTruncation(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(MinInput)), Vector256<float>.Zero, p * power);
    }
}
