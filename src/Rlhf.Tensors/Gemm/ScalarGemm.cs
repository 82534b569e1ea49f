// Reference GEMM: the plain triple loop, accumulated in double. Slow; the others are tested against it.
namespace Rlhf.Tensors;

internal sealed unsafe class ScalarGemm : IGemmProvider
{
    public static readonly ScalarGemm Instance = new();

    public string Name => "scalar";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float x = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    float y = transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                    sum += (double)x * y;
                }
                float* target = c + (long)i * ldc + j;
                *target = beta == 0 ? (float)(alpha * sum) : (float)(alpha * sum + beta * *target);
            }
        }
    }
}
