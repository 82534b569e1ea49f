// The single GEMM entry point every matrix product in the project goes through.
namespace Rlhf.Tensors;

/// <summary>
/// Row-major single-precision GEMM: <c>C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C</c>, where
/// <c>op(X)</c> is X or its transpose. Leading dimensions are row strides in floats (as in CBLAS row-major).
/// When <paramref name="beta"/> is 0, C is overwritten and its previous contents (even NaN) are ignored.
/// </summary>
internal unsafe interface IGemmProvider
{
    string Name { get; }

    /// <param name="parallel">Use every worker thread; false when the caller already parallelises (e.g. per head).</param>
    void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true);
}
