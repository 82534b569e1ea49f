// Products of a packed matrix with many rows (training or prefill on a frozen bf16 base: a whole batch of tokens): the
// panels are widened to fp32 one block at a time into a scratch matrix and multiplied by the GEMM (Gemm.Sgemm), so the
// weights stay stored once in bf16 while the product runs at the GEMM's speed. Products and sums in fp32; each output
// element is one GEMM dot product over the whole inner dimension (blocks split only the other dimension).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors;

internal sealed unsafe partial class PackedMatrix
{
    /// <summary>From this many rows the widened GEMM is faster than the panel kernels (which stream the panels once,
    /// best for decoding's few rows).</summary>
    internal const int WidenedRows = 64;

    private const long WidenedBlockFloats = 1 << 22; // 16 MiB of widened fp32 values at a time

    [ThreadStatic] private static float[]? widenedScratch;

    /// <summary>
    /// C[m, n] = A·op(B) + bias through the GEMM, one block of whole panels (columns of op(B)) at a time. The managed
    /// AVX-512 GEMM takes the panels as its own packed B (its NR is the panel width): fp32 panels are multiplied where
    /// they lie, bf16 ones widened into that layout; other GEMMs get the block widened to a plain [k, width] matrix.
    /// </summary>
    private void MultiplyWidened(int m, float* a, int lda, float* c, int ldc, float* bias, bool parallel)
    {
        var direct = Gemm.Provider is ManagedGemm { PanelWidth: PanelWidth } managed ? managed : null;
        int perBlock = direct != null && Precision == WeightPrecision.Float32 ? panels : (int)Math.Max(1, WidenedBlockFloats / ((long)K * PanelWidth));
        perBlock = Math.Min(perBlock, panels);
        float* block = direct != null && Precision == WeightPrecision.Float32
            ? null
            : Kernels.KernelSupport.Scratch(ref widenedScratch, (long)perBlock * PanelWidth * K);
        for (int first = 0; first < panels; first += perBlock)
        {
            int count = Math.Min(perBlock, panels - first), width = count * PanelWidth;
            int column = first * PanelWidth, columns = Math.Min(width, N - column);
            float beta = 0f;
            if (bias != null)
            {
                for (int r = 0; r < m; r++) Buffer.MemoryCopy(bias + column, c + (long)r * ldc + column, columns * 4L, columns * 4L);
                beta = 1f;
            }
            if (direct != null)
            {
                // The panels as the GEMM's packed B: in place (fp32) or widened panel by panel (bf16).
                float* source = block == null ? storage.Pointer + (long)first * PanelWidth * K : block;
                if (block != null) WidenPanels(first, count, block);
                direct.SgemmPanels(m, columns, K, 1f, a, lda, source, beta, c + column, ldc, parallel);
                continue;
            }
            // block[p, 0..width) = op(B)[p, column..column + width) (zero past n, as the panels).
            WidenColumns(first, count, block, width);
            Gemm.Sgemm(false, false, m, columns, K, 1f, a, lda, block, width, beta, c + column, ldc, parallel);
        }
    }

    /// <summary>Panels [first, first + count) widened to fp32 in their own layout (panel q at block + q·32·k).</summary>
    private void WidenPanels(int first, int count, float* block)
    {
        Parallelism.For(count, 1, (q0, q1) =>
        {
            for (int q = q0; q < q1; q++)
                WidenPanel<BFloat16Panel>(first + q, 0, K, block + (long)q * PanelWidth * K, PanelWidth);
        });
    }

    /// <summary>A[m, k] += C[m, n]·op(B)ᵀ through the GEMM, one block of rows of op(B) (columns of A) at a time.</summary>
    private void MultiplyTransposedAddWidened(int m, float* c, int ldc, float* a, int lda)
    {
        int width = panels * PanelWidth;
        int perBlock = (int)Math.Clamp(WidenedBlockFloats / width, 1, K);
        float* block = Kernels.KernelSupport.Scratch(ref widenedScratch, (long)perBlock * width);
        for (int first = 0; first < K; first += perBlock)
        {
            int rows = Math.Min(perBlock, K - first);
            // block[p − first, 0..width) = op(B)[p, ·] for p in [first, first + rows).
            WidenRows(first, rows, block, width);
            Gemm.Sgemm(false, true, m, rows, N, 1f, c, ldc, block, width, 1f, a + first, lda);
        }
    }

    private void WidenColumns(int firstPanel, int count, float* block, int width)
    {
        bool bf16 = Precision == WeightPrecision.BFloat16;
        Parallelism.For(K, 256, (first, last) =>
        {
            for (int panel = 0; panel < count; panel++)
                if (bf16) WidenPanel<BFloat16Panel>(firstPanel + panel, first, last, block + panel * PanelWidth, width);
                else WidenPanel<Float32Panel>(firstPanel + panel, first, last, block + panel * PanelWidth, width);
        });
    }

    private void WidenRows(int firstRow, int rows, float* block, int width)
    {
        bool bf16 = Precision == WeightPrecision.BFloat16;
        Parallelism.For(panels, 8, (first, last) =>
        {
            for (int panel = first; panel < last; panel++)
                if (bf16) WidenPanel<BFloat16Panel>(panel, firstRow, firstRow + rows, block + panel * PanelWidth - (long)firstRow * width, width);
                else WidenPanel<Float32Panel>(panel, firstRow, firstRow + rows, block + panel * PanelWidth - (long)firstRow * width, width);
        });
    }

    /// <summary>Rows [firstRow, lastRow) of one panel as fp32: row p's 32 values go to <paramref name="target"/> + p·<paramref name="stride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WidenPanel<TFormat>(int panel, int firstRow, int lastRow, float* target, int stride)
        where TFormat : struct, IPanelFormat
    {
        byte* values = (byte*)storage.Pointer + (long)panel * PanelWidth * K * TFormat.BytesPerValue;
        for (int p = firstRow; p < lastRow; p++)
        {
            TFormat.Load(values + (long)p * PanelWidth * TFormat.BytesPerValue, out var low, out var high);
            float* row = target + (long)p * stride;
            low.Store(row);
            high.Store(row + 16);
        }
    }
}
