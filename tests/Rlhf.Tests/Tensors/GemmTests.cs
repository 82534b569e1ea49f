// Managed (every kernel this machine runs) and OpenBLAS GEMM checked against the scalar double-accumulating reference.
using Rlhf.Tensors;
using Xunit;

namespace Rlhf.Tests.Tensors;

public unsafe class GemmTests
{
    public static IEnumerable<object[]> Providers()
    {
        yield return ["managed"];
        if (ManagedGemm.Instance.Kind != GemmKernelKind.Avx2 && GemmKernelsAvailable(GemmKernelKind.Avx2)) yield return ["managed-avx2"];
        yield return ["managed-scalar"];
        yield return ["openblas"];
    }

    private static bool GemmKernelsAvailable(GemmKernelKind kind)
    {
        try
        {
            _ = new ManagedGemm(kind);
            return true;
        }
        catch (PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Null when the provider cannot run here (OpenBLAS not installed): the test then passes vacuously.</summary>
    private static IGemmProvider? Get(string name) => name switch
    {
        "managed" => ManagedGemm.Instance,
        "managed-avx2" => new ManagedGemm(GemmKernelKind.Avx2),
        "managed-scalar" => new ManagedGemm(GemmKernelKind.Scalar),
        "openblas" => OpenBlasGemm.Instance,
        _ => throw new ArgumentException(name),
    };

    private static readonly int[] OddSizes = [0, 1, 15, 17, 63, 65, 127, 129];

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public void OddSquareSizesAllTransposes(string name)
    {
        var provider = Get(name);
        Skip.If(provider is null, $"GEMM provider '{name}' is not available here (OpenBLAS: apt-get install libopenblas0-pthread).");
        foreach (int s in OddSizes)
            for (int t = 0; t < 4; t++)
                Check(provider, t >= 2, (t & 1) == 1, s, s, s, alpha: 1f, beta: 0f, padding: 0, parallel: true, seed: (ulong)(s * 4 + t));
    }

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public void RectangularMixesWithPaddingAlphaBeta(string name)
    {
        var provider = Get(name);
        Skip.If(provider is null, $"GEMM provider '{name}' is not available here (OpenBLAS: apt-get install libopenblas0-pthread).");
        (int m, int n, int k)[] shapes =
        [
            (1, 129, 17), (129, 1, 65), (17, 63, 1), (15, 127, 0), (65, 15, 129), (127, 33, 63),
            (13, 300, 257), (300, 47, 31), (37, 300, 513), (7, 2, 600),
        ];
        (float alpha, float beta)[] scalars = [(1f, 0f), (0.5f, 1f), (-1.25f, 0.75f), (2f, -1f), (0f, 0.5f)];
        int i = 0;
        foreach (var (m, n, k) in shapes)
            for (int t = 0; t < 4; t++)
            {
                var (alpha, beta) = scalars[i++ % scalars.Length];
                Check(provider, t >= 2, (t & 1) == 1, m, n, k, alpha, beta, padding: 3 + i % 5, parallel: i % 2 == 0, seed: (ulong)i);
            }
    }

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public void LargeEnoughToThreadParallelAndSerialAgree(string name)
    {
        var provider = Get(name);
        Skip.If(provider is null, $"GEMM provider '{name}' is not available here (OpenBLAS: apt-get install libopenblas0-pthread).");
        // Big enough to cross the managed threading threshold (2^23 multiply-adds), with both split directions;
        // each transpose combination once.
        Check(provider, false, false, 200, 231, 190, 1f, 0.5f, padding: 5, parallel: true, seed: 100);
        Check(provider, true, true, 200, 231, 190, 1f, 0f, padding: 0, parallel: true, seed: 101);
        Check(provider, false, true, 231, 200, 190, -1f, 0f, padding: 3, parallel: true, seed: 102);
        Check(provider, true, false, 231, 200, 190, 1f, 2f, padding: 0, parallel: true, seed: 103);
    }

    [Theory]
    [InlineData(301, 259, 300, false, false)] // splits rows across threads
    [InlineData(130, 517, 300, true, true)]   // splits columns across threads
    public void ManagedIsDeterministicAcrossThreadCounts(int m, int n, int k, bool transA, bool transB)
    {
        var rng = new Rng(5);
        float[] a = Random(rng, m * k), b = Random(rng, k * n);
        float[] parallel = new float[m * n], serial = new float[m * n];
        int lda = transA ? m : k, ldb = transB ? k : n;
        fixed (float* pa = a, pb = b, pp = parallel, ps = serial)
        {
            ManagedGemm.Instance.Sgemm(transA, transB, m, n, k, 1f, pa, lda, pb, ldb, 0f, pp, n, parallel: true);
            ManagedGemm.Instance.Sgemm(transA, transB, m, n, k, 1f, pa, lda, pb, ldb, 0f, ps, n, parallel: false);
        }
        Assert.Equal(serial, parallel);
    }

    [Fact]
    public void AttentionHeadShapesWithStridedRows()
    {
        // Per-head QKᵀ: Q and K are 64-wide slices of a [256, 3·768] qkv matrix; then P·V with P [256,256].
        Check(ManagedGemm.Instance, false, true, 256, 256, 64, 0.125f, 0f, padding: 3 * 768 - 64, parallel: false, seed: 9);
        Check(ManagedGemm.Instance, false, false, 256, 64, 256, 1f, 0f, padding: 11, parallel: false, seed: 10);
    }

    [Fact]
    public void OpenBlasRequestedButMissingThrowsElseLoads()
    {
        if (OpenBlasGemm.IsAvailable) Assert.Equal("openblas", Gemm.Create("openblas").Name);
        else Assert.Throws<InvalidOperationException>(() => Gemm.Create("openblas"));
        // auto: the managed kernel where AVX-512 runs it at full speed, else OpenBLAS when it loads.
        Assert.Equal(!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && OpenBlasGemm.IsAvailable ? "openblas" : "managed", Gemm.Create("auto").Name);
        Assert.Equal("managed", Gemm.Create("managed").Name);
        Assert.Equal("scalar", Gemm.Create("scalar").Name);
        Assert.Throws<ArgumentException>(() => Gemm.Create("cublas"));
    }

    /// <summary>
    /// Runs provider and reference on the same inputs (every leading dimension padded by <paramref name="padding"/>;
    /// C pre-filled with NaN when beta is 0, so stale values must be ignored) and compares element-wise:
    /// |got − want| ≤ 1e-5·√k·(|alpha|·‖a_i‖·‖b_j‖ + |beta·c|) + 1e-30, i.e. relative to a bound on the magnitude of the summed terms.
    /// The padding columns of C must be left untouched.
    /// </summary>
    private static void Check(IGemmProvider provider, bool transA, bool transB, int m, int n, int k,
        float alpha, float beta, int padding, bool parallel, ulong seed)
    {
        var rng = new Rng(seed);
        int rowsA = transA ? k : m, colsA = transA ? m : k;
        int rowsB = transB ? n : k, colsB = transB ? k : n;
        int lda = colsA + padding, ldb = colsB + padding, ldc = n + padding;
        float[] a = Random(rng, Math.Max(1, rowsA * lda)), b = Random(rng, Math.Max(1, rowsB * ldb));
        float[] c = Random(rng, Math.Max(1, m * ldc));
        if (beta == 0) Array.Fill(c, float.NaN);
        float[] expected = (float[])c.Clone();
        float[] scale = new float[Math.Max(1, m * n)];
        fixed (float* pa = a, pb = b, pc = c, pe = expected)
        {
            provider.Sgemm(transA, transB, m, n, k, alpha, pa, Math.Max(1, lda), pb, Math.Max(1, ldb), beta, pc, Math.Max(1, ldc), parallel);
            ScalarGemm.Instance.Sgemm(transA, transB, m, n, k, alpha, pa, Math.Max(1, lda), pb, Math.Max(1, ldb), beta, pe, Math.Max(1, ldc));
        }
        // Σ_p |a_ip·b_pj| ≤ ‖row i of op(A)‖·‖column j of op(B)‖ (Cauchy–Schwarz), computed in O((m+n)k).
        double[] normA = new double[m], normB = new double[n];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) { double x = transA ? a[p * lda + i] : a[i * lda + p]; normA[i] += x * x; }
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) { double y = transB ? b[j * ldb + p] : b[p * ldb + j]; normB[j] += y * y; }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double magnitude = Math.Abs(alpha) * Math.Sqrt(normA[i] * normB[j])
                    + (beta == 0 ? 0 : Math.Abs(beta * (double)expected[i * ldc + j]));
                double tolerance = 1e-5 * Math.Sqrt(Math.Max(1, k)) * magnitude + 1e-30;
                float got = c[i * ldc + j], want = expected[i * ldc + j];
                Assert.True(Math.Abs(got - want) <= tolerance,
                    $"{provider.Name} tA={transA} tB={transB} {m}x{n}x{k} α={alpha} β={beta} ld+{padding}: C[{i},{j}] = {got}, expected {want} (tol {tolerance:G3})");
            }
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(BitConverter.SingleToInt32Bits(c[i * ldc + j]) == BitConverter.SingleToInt32Bits(expected[i * ldc + j]),
                    $"{provider.Name}: padding C[{i},{j}] was overwritten");
    }

    private static float[] Random(Rng rng, int length)
    {
        var values = new float[length];
        rng.FillNormal(values, 0, 1);
        return values;
    }
}
