// The backward of a packed linear layer to its input: dA += dC·op(B)ᵀ read from the same panels (bf16 or fp32), so a
// frozen weight stored once in bf16 serves forward and backward; products and sums in fp32.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors;

internal sealed unsafe partial class PackedMatrix
{
    private const int TransposedRowBlock = 64; // rows of dC kept in cache while the panels stream past them

    [ThreadStatic] private static float[]? transposedScratch;

    /// <summary>
    /// A[m, k] += C[m, n]·op(B)ᵀ, i.e. dA[r, p] += Σ_j dC[r, j]·op(B)[p, j] (the input gradient of <see cref="Multiply"/>).
    /// Each element is one dot product over whole panels (dC zero-padded past n), summed in the same order whatever the
    /// thread count; the threads split the k columns of A. From <see cref="WidenedRows"/> rows, the GEMM on widened blocks.
    /// </summary>
    public void MultiplyTransposedAdd(int m, float* c, int ldc, float* a, int lda)
    {
        if (!Supported) throw new PlatformNotSupportedException("PackedMatrix needs AVX-512 (see Supported).");
        if (m <= 0 || K == 0 || N == 0) return;
        if (m >= WidenedRows)
        {
            MultiplyTransposedAddWidened(m, c, ldc, a, lda);
            return;
        }
        // dC copied into whole panels' width with zeros past n (the panels are zero there too).
        int width = panels * PanelWidth;
        float* padded = Kernels.KernelSupport.Scratch(ref transposedScratch, (long)m * width);
        for (int r = 0; r < m; r++)
        {
            Buffer.MemoryCopy(c + (long)r * ldc, padded + (long)r * width, N * 4L, N * 4L);
            new Span<float>(padded + (long)r * width + N, width - N).Clear();
        }
        bool bf16 = Precision == WeightPrecision.BFloat16;
        Parallelism.For(K, 16, (first, last) =>
        {
            if (bf16) TransposedRange<BFloat16Panel>(m, padded, width, a, lda, first, last);
            else TransposedRange<Float32Panel>(m, padded, width, a, lda, first, last);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TransposedRange<TFormat>(int m, float* c, int width, float* a, int lda, int firstColumn, int lastColumn)
        where TFormat : struct, IPanelFormat
    {
        byte* values = (byte*)storage.Pointer;
        long panelBytes = (long)PanelWidth * K * TFormat.BytesPerValue, rowBytes = PanelWidth * TFormat.BytesPerValue;
        for (int row0 = 0; row0 < m; row0 += TransposedRowBlock)
        {
            int rowEnd = Math.Min(m, row0 + TransposedRowBlock);
            for (int p = firstColumn; p < lastColumn; p++)
            {
                byte* panelRow = values + p * rowBytes;
                int r = row0;
                for (; r + 4 <= rowEnd; r += 4)
                {
                    // Four rows of dC against panel row p of every panel: eight accumulators.
                    Vector512<float> s0 = default, t0 = default, s1 = default, t1 = default, s2 = default, t2 = default, s3 = default, t3 = default;
                    float* c0 = c + (long)r * width;
                    for (int panel = 0; panel < panels; panel++)
                    {
                        TFormat.Load(panelRow + panel * panelBytes, out var low, out var high);
                        int j = panel * PanelWidth;
                        s0 += Vector512.Load(c0 + j) * low; t0 += Vector512.Load(c0 + j + 16) * high;
                        s1 += Vector512.Load(c0 + width + j) * low; t1 += Vector512.Load(c0 + width + j + 16) * high;
                        s2 += Vector512.Load(c0 + 2 * width + j) * low; t2 += Vector512.Load(c0 + 2 * width + j + 16) * high;
                        s3 += Vector512.Load(c0 + 3 * width + j) * low; t3 += Vector512.Load(c0 + 3 * width + j + 16) * high;
                    }
                    a[(long)r * lda + p] += Vector512.Sum(s0 + t0);
                    a[(long)(r + 1) * lda + p] += Vector512.Sum(s1 + t1);
                    a[(long)(r + 2) * lda + p] += Vector512.Sum(s2 + t2);
                    a[(long)(r + 3) * lda + p] += Vector512.Sum(s3 + t3);
                }
                for (; r < rowEnd; r++)
                {
                    Vector512<float> s = default, t = default;
                    float* row = c + (long)r * width;
                    for (int panel = 0; panel < panels; panel++)
                    {
                        TFormat.Load(panelRow + panel * panelBytes, out var low, out var high);
                        s += Vector512.Load(row + panel * PanelWidth) * low;
                        t += Vector512.Load(row + panel * PanelWidth + 16) * high;
                    }
                    a[(long)r * lda + p] += Vector512.Sum(s + t);
                }
            }
        }
    }
}
