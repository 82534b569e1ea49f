// Chooses the GEMM provider once: the managed kernel on AVX-512 CPUs, else OpenBLAS when libopenblas.so.0 loads.
namespace Rlhf.Tensors;

internal static unsafe class Gemm
{
    /// <summary>Environment variable selecting the provider: <c>auto</c> (default), <c>openblas</c>, <c>managed</c> or <c>scalar</c>.</summary>
    public const string ProviderVariable = "RLHF_GEMM";

    private static IGemmProvider? provider;

    /// <summary>The provider in use. Settable (e.g. by <c>--gemm</c> or tests).</summary>
    public static IGemmProvider Provider
    {
        get => provider ??= Create(Environment.GetEnvironmentVariable(ProviderVariable));
        set => provider = value;
    }

    /// <summary>
    /// Creates a provider by name. "auto" (or null): on CPUs with AVX-512 the managed kernel (within 85–98% of OpenBLAS
    /// per product, and faster over a whole training step, where OpenBLAS's spinning threads compete with the other
    /// kernels: 339 vs 298 tokens/s for GPT-2 124M); elsewhere OpenBLAS when libopenblas.so.0 loads, else managed.
    /// </summary>
    public static IGemmProvider Create(string? name) => (name ?? "auto").Trim().ToLowerInvariant() switch
    {
        "" or "auto" => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? ManagedGemm.Instance : (IGemmProvider?)OpenBlasGemm.Instance ?? ManagedGemm.Instance,
        "openblas" => OpenBlasGemm.Instance ?? throw new InvalidOperationException(
            $"{ProviderVariable}=openblas but libopenblas.so.0 (with cblas_sgemm) could not be loaded; install OpenBLAS (e.g. libopenblas0-pthread) or use auto/managed."),
        "managed" => ManagedGemm.Instance,
        "scalar" => ScalarGemm.Instance,
        _ => throw new ArgumentException($"Unknown GEMM provider '{name}' (set {ProviderVariable} to auto, openblas, managed or scalar)."),
    };

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C through the current provider; products with few rows (decoding) go to
    /// <see cref="SkinnyGemm"/>, which streams B instead of packing it.
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true)
    {
        if (m == 0 || n == 0) return;
        var current = Provider;
        if (current is not ScalarGemm && SkinnyGemm.Supports(transA, m))
        {
            SkinnyGemm.Sgemm(transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);
            return;
        }
        current.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);
    }

    /// <summary>
    /// <see cref="Sgemm"/> followed by C += <paramref name="term"/> (mask ⊙ u·v): fused into the managed GEMM's tiles,
    /// a separate pass with the other providers and for few rows.
    /// </summary>
    public static void SgemmPlusTerm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, in LowRankTerm term)
    {
        if (m == 0 || n == 0) return;
        if (Provider is ManagedGemm managed && !SkinnyGemm.Supports(transA, m))
        {
            managed.SgemmPlusTerm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, term);
            return;
        }
        Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        term.AddTo(c, ldc, m, n);
    }
}
