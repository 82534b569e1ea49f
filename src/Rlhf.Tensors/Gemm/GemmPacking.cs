// Packs blocks of op(A) and op(B) into the contiguous, zero-padded micro-panels the GEMM micro-kernels stream.
// Transposition is handled here, so the kernels only ever see one layout.
namespace Rlhf.Tensors;

internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs op(A)[i0..i0+mc, p0..p0+kc] into ceil(mc/mr) panels; panel q holds rows q·mr.. as kc groups of mr
    /// floats (dest[q·kc·mr + p·mr + r]), rows past mc zero-filled.
    /// </summary>
    public static void PackA(bool transA, float* a, nint lda, int i0, int p0, int mc, int kc, int mr, float* dest)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dest + (nint)ir * kc;
            if (transA)
            {
                // op(A)[i,p] = a[p·lda + i]: the mr values of one p are contiguous.
                float* src = a + (nint)p0 * lda + i0 + ir;
                for (int p = 0; p < kc; p++)
                {
                    float* s = src + p * lda;
                    float* d = panel + p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = s[r];
                    for (; r < mr; r++) d[r] = 0;
                }
            }
            else
            {
                // op(A)[i,p] = a[i·lda + p]: each row is contiguous along p; write it with stride mr.
                for (int r = 0; r < rows; r++)
                {
                    float* s = a + (nint)(i0 + ir + r) * lda + p0;
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++) d[p * mr] = s[p];
                }
                for (int r = rows; r < mr; r++)
                {
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++) d[p * mr] = 0;
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[p0..p0+kc, j0..j0+nc] into ceil(nc/nr) panels; panel q holds columns q·nr.. as kc rows of nr
    /// floats (dest[q·kc·nr + p·nr + c]), columns past nc zero-filled.
    /// </summary>
    public static void PackB(bool transB, float* b, nint ldb, int p0, int j0, int kc, int nc, int nr, float* dest)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dest + (nint)jr * kc;
            if (!transB)
            {
                // op(B)[p,j] = b[p·ldb + j]: one packed row is a contiguous copy.
                float* src = b + (nint)p0 * ldb + j0 + jr;
                for (int p = 0; p < kc; p++)
                {
                    float* s = src + p * ldb;
                    float* d = panel + p * nr;
                    if (cols == nr)
                    {
                        new ReadOnlySpan<float>(s, nr).CopyTo(new Span<float>(d, nr));
                    }
                    else
                    {
                        int c = 0;
                        for (; c < cols; c++) d[c] = s[c];
                        for (; c < nr; c++) d[c] = 0;
                    }
                }
            }
            else
            {
                // op(B)[p,j] = b[j·ldb + p]: each column of op(B) is a contiguous row of b; write with stride nr.
                for (int c = 0; c < cols; c++)
                {
                    float* s = b + (nint)(j0 + jr + c) * ldb + p0;
                    float* d = panel + c;
                    for (int p = 0; p < kc; p++) d[p * nr] = s[p];
                }
                for (int c = cols; c < nr; c++)
                {
                    float* d = panel + c;
                    for (int p = 0; p < kc; p++) d[p * nr] = 0;
                }
            }
        }
    }
}
