// GEMM for few rows (decoding: one or a few tokens per sequence): streams the weight matrix once, straight
// from memory, instead of packing it — at m ≤ 16 packing would cost more than the product itself.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors;

/// <summary>
/// <c>C[m,n] = alpha·A[m,k]·op(B) + beta·C</c> for m ≤ <see cref="MaxRows"/> and A not transposed.
/// op(B) = B [k, n] (Conv1D weights): 4-row × 64-column register tiles, the B panel reused from cache by every
/// row group. op(B) = Bᵀ with B [n, k] (e.g. an output layer stored [V, C]): 4 × 4 blocks of dot products over k.
/// Columns are split across the worker threads.
/// </summary>
internal static unsafe class SkinnyGemm
{
    public const int MaxRows = 16;
    private const int RowTile = 4;
    [ThreadStatic] private static float[]? paddedScratch;

    public static bool Supports(bool transA, int m) => !transA && m <= MaxRows && Vector512.IsHardwareAccelerated;

    public static void Sgemm(bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc, bool parallel)
    {
        if (m == 0 || n == 0) return;
        // A padded to a multiple of 4 rows with zeros, so tiles never branch on the row count.
        int paddedRows = (m + RowTile - 1) / RowTile * RowTile;
        float* ap = Kernels.KernelSupport.Scratch(ref paddedScratch, (long)paddedRows * k);
        {
            new Span<float>(ap, paddedRows * k).Clear();
            for (int r = 0; r < m; r++)
            {
                Buffer.MemoryCopy(a + (long)r * lda, ap + (long)r * k, k * 4L, k * 4L);
                if (!transB && alpha != 1) for (int p = 0; p < k; p++) ap[(long)r * k + p] *= alpha; // panel path folds alpha into A
            }
            float* aPadded = ap;
            int blockWidth = transB ? (m == 1 ? 8 : 4) : 64;
            int blocks = (n + blockWidth - 1) / blockWidth;
            Action<int, int> body = transB
                ? (first, last) => DotBlocks(aPadded, paddedRows, m, k, b, ldb, c, ldc, n, alpha, beta, first, last)
                : (first, last) => PanelBlocks(aPadded, paddedRows, m, k, b, ldb, c, ldc, n, alpha, beta, first, last);
            if (parallel) Parallelism.For(blocks, 4, body);
            else body(0, blocks);
        }
    }

    /// <summary>
    /// op(B) = B [k, n]: B is streamed row by row (contiguous, four rows at a time) and each 64-column chunk
    /// of those rows updates the m rows of C, which stay in cache: C[r, j] += Σ_{i&lt;4} A[r, p+i]·B[p+i, j].
    /// </summary>
    private static void PanelBlocks(float* a, int paddedRows, int m, int k, float* b, int ldb, float* c, int ldc, int n,
        float alpha, float beta, int firstBlock, int lastBlock)
    {
        int first = firstBlock * 64, last = Math.Min(n, lastBlock * 64), width = last - first;
        if (width <= 0) return;
        for (int r = 0; r < m; r++)
        {
            float* row = c + (long)r * ldc + first;
            if (beta == 0) new Span<float>(row, width).Clear();
            else if (beta != 1) for (int j = 0; j < width; j++) row[j] *= beta;
        }
        int vectorWidth = width / 64 * 64;
        int p = 0;
        for (; p <= k - 4; p += 4)
        {
            float* b0 = b + (long)p * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
            for (int j = first; j < first + vectorWidth; j += 64)
            {
                // Four rows × 64 columns of B in 16 registers, reused by every row of A.
                var y00 = Vector512.Load(b0 + j); var y01 = Vector512.Load(b0 + j + 16); var y02 = Vector512.Load(b0 + j + 32); var y03 = Vector512.Load(b0 + j + 48);
                var y10 = Vector512.Load(b1 + j); var y11 = Vector512.Load(b1 + j + 16); var y12 = Vector512.Load(b1 + j + 32); var y13 = Vector512.Load(b1 + j + 48);
                var y20 = Vector512.Load(b2 + j); var y21 = Vector512.Load(b2 + j + 16); var y22 = Vector512.Load(b2 + j + 32); var y23 = Vector512.Load(b2 + j + 48);
                var y30 = Vector512.Load(b3 + j); var y31 = Vector512.Load(b3 + j + 16); var y32 = Vector512.Load(b3 + j + 32); var y33 = Vector512.Load(b3 + j + 48);
                for (int r = 0; r < m; r++)
                {
                    float* ar = a + (long)r * k + p;
                    float* target = c + (long)r * ldc + j;
                    var x0 = Vector512.Create(ar[0]); var x1 = Vector512.Create(ar[1]);
                    var x2 = Vector512.Create(ar[2]); var x3 = Vector512.Create(ar[3]);
                    var s0 = Vector512.Load(target); var s1 = Vector512.Load(target + 16);
                    var s2 = Vector512.Load(target + 32); var s3 = Vector512.Load(target + 48);
                    s0 = Vector512.FusedMultiplyAdd(x0, y00, s0); s1 = Vector512.FusedMultiplyAdd(x0, y01, s1);
                    s2 = Vector512.FusedMultiplyAdd(x0, y02, s2); s3 = Vector512.FusedMultiplyAdd(x0, y03, s3);
                    s0 = Vector512.FusedMultiplyAdd(x1, y10, s0); s1 = Vector512.FusedMultiplyAdd(x1, y11, s1);
                    s2 = Vector512.FusedMultiplyAdd(x1, y12, s2); s3 = Vector512.FusedMultiplyAdd(x1, y13, s3);
                    s0 = Vector512.FusedMultiplyAdd(x2, y20, s0); s1 = Vector512.FusedMultiplyAdd(x2, y21, s1);
                    s2 = Vector512.FusedMultiplyAdd(x2, y22, s2); s3 = Vector512.FusedMultiplyAdd(x2, y23, s3);
                    s0 = Vector512.FusedMultiplyAdd(x3, y30, s0); s1 = Vector512.FusedMultiplyAdd(x3, y31, s1);
                    s2 = Vector512.FusedMultiplyAdd(x3, y32, s2); s3 = Vector512.FusedMultiplyAdd(x3, y33, s3);
                    s0.Store(target); s1.Store(target + 16); s2.Store(target + 32); s3.Store(target + 48);
                }
            }
            for (int j = first + vectorWidth; j < last; j++)
                for (int r = 0; r < m; r++)
                {
                    float* ar = a + (long)r * k + p;
                    c[(long)r * ldc + j] += ar[0] * b0[j] + ar[1] * b1[j] + ar[2] * b2[j] + ar[3] * b3[j];
                }
        }
        for (; p < k; p++)
        {
            float* b0 = b + (long)p * ldb;
            for (int r = 0; r < m; r++)
            {
                float x = a[(long)r * k + p];
                float* target = c + (long)r * ldc;
                for (int j = first; j < last; j++) target[j] += x * b0[j];
            }
        }
    }

    /// <summary>op(B) = Bᵀ, B [n, k]: C[r, j] = A[r, :]·B[j, :], four rows of A against four rows of B at a time.</summary>
    private static void DotBlocks(float* a, int paddedRows, int m, int k, float* b, int ldb, float* c, int ldc, int n,
        float alpha, float beta, int firstBlock, int lastBlock)
    {
        float* result = stackalloc float[16];
        if (m == 1)
        {
            // One row (batch-1 decoding): eight rows of B per pass, no padded rows of A.
            for (int block = firstBlock; block < lastBlock; block++)
            {
                int column = block * 8, width = Math.Min(8, n - column);
                float* first = b + (long)column * ldb;
                Dot1x8(a, k, first, ldb, width, result);
                for (int j = 0; j < width; j++)
                    c[column + j] = beta == 0 ? alpha * result[j] : alpha * result[j] + beta * c[column + j];
            }
            return;
        }
        for (int block = firstBlock; block < lastBlock; block++)
        {
            int column = block * 4, width = Math.Min(4, n - column);
            float* b0 = b + (long)column * ldb;
            float* b1 = width > 1 ? b0 + ldb : b0, b2 = width > 2 ? b0 + 2L * ldb : b0, b3 = width > 3 ? b0 + 3L * ldb : b0;
            for (int row = 0; row < paddedRows; row += RowTile)
            {
                Dot4x4(a + (long)row * k, k, b0, b1, b2, b3, result);
                for (int r = 0; r < RowTile && row + r < m; r++)
                {
                    float* target = c + (long)(row + r) * ldc + column;
                    for (int j = 0; j < width; j++)
                        target[j] = beta == 0 ? alpha * result[r * 4 + j] : alpha * result[r * 4 + j] + beta * target[j];
                }
            }
        }
    }

    /// <summary>
    /// result[j] = a · b_j for the <paramref name="width"/> (≤ 8) consecutive rows b_j = first + j·ldb, one row after the
    /// other: a single forward stream through B, which the hardware prefetcher follows best.
    /// </summary>
    private static void Dot1x8(float* a, int k, float* first, int ldb, int width, float* result)
    {
        for (int j = 0; j < width; j++)
        {
            float* row = first + (long)j * ldb;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            int p = 0;
            for (; p <= k - 64; p += 64)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(row + p), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + p + 16), Vector512.Load(row + p + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(a + p + 32), Vector512.Load(row + p + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(a + p + 48), Vector512.Load(row + p + 48), s3);
            }
            for (; p <= k - 16; p += 16) s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(row + p), s0);
            float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
            for (; p < k; p++) sum += a[p] * row[p];
            result[j] = sum;
        }
    }

    private static void Dot4x4(float* a, int k, float* b0, float* b1, float* b2, float* b3, float* result)
    {
        float* a0 = a, a1 = a + k, a2 = a1 + k, a3 = a2 + k;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var y0 = Vector512.Load(b0 + p); var y1 = Vector512.Load(b1 + p);
            var y2 = Vector512.Load(b2 + p); var y3 = Vector512.Load(b3 + p);
            var x = Vector512.Load(a0 + p);
            s00 = Vector512.FusedMultiplyAdd(x, y0, s00); s01 = Vector512.FusedMultiplyAdd(x, y1, s01);
            s02 = Vector512.FusedMultiplyAdd(x, y2, s02); s03 = Vector512.FusedMultiplyAdd(x, y3, s03);
            x = Vector512.Load(a1 + p);
            s10 = Vector512.FusedMultiplyAdd(x, y0, s10); s11 = Vector512.FusedMultiplyAdd(x, y1, s11);
            s12 = Vector512.FusedMultiplyAdd(x, y2, s12); s13 = Vector512.FusedMultiplyAdd(x, y3, s13);
            x = Vector512.Load(a2 + p);
            s20 = Vector512.FusedMultiplyAdd(x, y0, s20); s21 = Vector512.FusedMultiplyAdd(x, y1, s21);
            s22 = Vector512.FusedMultiplyAdd(x, y2, s22); s23 = Vector512.FusedMultiplyAdd(x, y3, s23);
            x = Vector512.Load(a3 + p);
            s30 = Vector512.FusedMultiplyAdd(x, y0, s30); s31 = Vector512.FusedMultiplyAdd(x, y1, s31);
            s32 = Vector512.FusedMultiplyAdd(x, y2, s32); s33 = Vector512.FusedMultiplyAdd(x, y3, s33);
        }
        result[0] = Vector512.Sum(s00); result[1] = Vector512.Sum(s01); result[2] = Vector512.Sum(s02); result[3] = Vector512.Sum(s03);
        result[4] = Vector512.Sum(s10); result[5] = Vector512.Sum(s11); result[6] = Vector512.Sum(s12); result[7] = Vector512.Sum(s13);
        result[8] = Vector512.Sum(s20); result[9] = Vector512.Sum(s21); result[10] = Vector512.Sum(s22); result[11] = Vector512.Sum(s23);
        result[12] = Vector512.Sum(s30); result[13] = Vector512.Sum(s31); result[14] = Vector512.Sum(s32); result[15] = Vector512.Sum(s33);
        for (; p < k; p++)
        {
            for (int r = 0; r < 4; r++)
            {
                float x = a[(long)r * k + p];
                result[r * 4] += x * b0[p]; result[r * 4 + 1] += x * b1[p];
                result[r * 4 + 2] += x * b2[p]; result[r * 4 + 3] += x * b3[p];
            }
        }
    }
}
