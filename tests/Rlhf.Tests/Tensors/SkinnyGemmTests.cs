// The few-rows GEMM used in decoding, against the scalar reference.
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public unsafe class SkinnyGemmTests
{
    public static TheoryData<int, int, int, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (int m in new[] { 1, 2, 3, 4, 5, 15, 16 })
            foreach (int n in new[] { 1, 5, 63, 64, 65, 130 })
                foreach (int k in new[] { 1, 15, 17, 64 })
                    foreach (bool transB in new[] { false, true })
                        data.Add(m, n, k, transB);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheScalarReference(int m, int n, int k, bool transB)
    {
        Skip.IfNot(SkinnyGemm.Supports(false, m), "the skinny GEMM needs AVX-512 (the providers cover other machines)");
        var rng = new Rng((ulong)(m * 1000 + n * 10 + k));
        int lda = k + 3, ldb = (transB ? k : n) + 2, ldc = n + 1;
        var a = FiniteDifference.RandomArray(rng, m * lda);
        var b = FiniteDifference.RandomArray(rng, (transB ? n : k) * ldb);
        var c = FiniteDifference.RandomArray(rng, m * ldc);
        var expected = (float[])c.Clone();
        fixed (float* pa = a, pb = b, pc = c, pe = expected)
        {
            SkinnyGemm.Sgemm(transB, m, n, k, 0.5f, pa, lda, pb, ldb, 2f, pc, ldc, parallel: true);
            ScalarGemm.Instance.Sgemm(false, transB, m, n, k, 0.5f, pa, lda, pb, ldb, 2f, pe, ldc);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++)
                Assert.Equal(expected[i * ldc + j], c[i * ldc + j], 1e-4f * (1 + MathF.Sqrt(k)));
    }

    [SkippableFact]
    public void BetaZeroOverwritesGarbage()
    {
        Skip.IfNot(SkinnyGemm.Supports(false, 2), "the skinny GEMM needs AVX-512");
        var a = new float[] { 1, 2, 3, 4 };
        var b = Enumerable.Range(0, 2 * 70).Select(i => (float)i).ToArray();
        var c = Enumerable.Repeat(float.NaN, 2 * 70).ToArray();
        fixed (float* pa = a, pb = b, pc = c) SkinnyGemm.Sgemm(false, 2, 70, 2, 1f, pa, 2, pb, 70, 0f, pc, 70, parallel: false);
        Assert.Equal(0 * 1 + 70 * 2, c[0]);
        Assert.All(c, x => Assert.False(float.IsNaN(x)));
    }
}
