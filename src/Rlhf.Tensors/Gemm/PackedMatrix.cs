// A frozen weight matrix repacked once for inference: column panels streamed front to back by the decode GEMM,
// optionally stored as bfloat16 (half the bytes to read per token; products and sums stay fp32).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlhf.Tensors;

/// <summary>How a <see cref="PackedMatrix"/> stores its values.</summary>
internal enum WeightPrecision
{
    /// <summary>Exact copies of the fp32 weights.</summary>
    Float32,
    /// <summary>bfloat16 (round to nearest even): 8 significant bits, half the memory traffic.</summary>
    BFloat16,
}

/// <summary>
/// op(B) [k, n] of <c>C = A·op(B) + bias</c>, packed into column panels of <see cref="PanelWidth"/>: panel j holds rows
/// 0..k−1 of columns 32j..32j+31 one after the other (zero-padded past n), so a product reads the matrix exactly once,
/// as one forward stream per thread. Built from [k, n] weights (input-major) or from a [n, k] matrix used transposed
/// (nn.Linear's [out, in]). Immutable: repack after the source weights change.
/// </summary>
internal sealed unsafe partial class PackedMatrix : IDisposable
{
    public const int PanelWidth = 32;
    private const int RowTile = 8, DepthBlock = 256;
    private const int PrefetchBytes = 4096; // how far ahead of the FMAs the panel is prefetched (measured best of 1–12 KiB)

    private readonly NativeSlab storage;
    private readonly int panels;

    public int K { get; }
    public int N { get; }
    public WeightPrecision Precision { get; }

    private PackedMatrix(int k, int n, WeightPrecision precision)
    {
        K = k;
        N = n;
        Precision = precision;
        panels = (n + PanelWidth - 1) / PanelWidth;
        long values = (long)panels * PanelWidth * k;
        storage = new NativeSlab(precision == WeightPrecision.Float32 ? values : (values + 1) / 2, zeroed: false); // every value is written
    }

    /// <summary>Bytes the packed values occupy (what one product streams from memory).</summary>
    public long Bytes => (long)panels * PanelWidth * K * (Precision == WeightPrecision.Float32 ? 4 : 2);

    /// <summary>Packs Conv1D weights <paramref name="weights"/> [k, n] (row-major): op(B) = W.</summary>
    public static PackedMatrix FromRowMajor(float* weights, int k, int n, WeightPrecision precision) =>
        Pack(weights, k, n, transposed: false, precision);

    /// <summary>Packs <paramref name="weights"/> [n, k] (row-major) used transposed: op(B) = Wᵀ (e.g. logits = h·wteᵀ).</summary>
    public static PackedMatrix FromTransposed(float* weights, int n, int k, WeightPrecision precision) =>
        Pack(weights, k, n, transposed: true, precision);

    private static PackedMatrix Pack(float* weights, int k, int n, bool transposed, WeightPrecision precision)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var packed = new PackedMatrix(k, n, precision);
        float* target = packed.storage.Pointer;
        Parallelism.For(packed.panels, 8, (first, last) =>
        {
            // One panel at a time through an fp32 staging block [k, 32] (zero past n), then stored in the panel's format.
            var block = GC.AllocateUninitializedArray<float>(k * PanelWidth, pinned: true);
            fixed (float* staged = block)
                for (int panel = first; panel < last; panel++)
                {
                    int column = panel * PanelWidth, columns = Math.Min(PanelWidth, n - column);
                    if (columns < PanelWidth) new Span<float>(staged, k * PanelWidth).Clear();
                    if (transposed)
                    {
                        // Source rows are panel columns: read each row once, contiguously.
                        for (int c = 0; c < columns; c++)
                        {
                            float* source = weights + (long)(column + c) * k;
                            for (int p = 0; p < k; p++) staged[p * PanelWidth + c] = source[p];
                        }
                    }
                    else
                    {
                        for (int p = 0; p < k; p++)
                            Buffer.MemoryCopy(weights + (long)p * n + column, staged + p * PanelWidth, PanelWidth * 4, columns * 4);
                    }
                    long offset = (long)panel * PanelWidth * k;
                    if (precision == WeightPrecision.Float32)
                    {
                        Buffer.MemoryCopy(staged, target + offset, k * PanelWidth * 4L, k * PanelWidth * 4L);
                        continue;
                    }
                    ushort* values = (ushort*)target + offset;
                    for (int p = 0; p < k; p++)
                        for (int c = 0; c < PanelWidth; c++) values[p * PanelWidth + BFloat16Slot(c)] = ToBFloat16(staged[p * PanelWidth + c]);
                }
        });
        return packed;
    }

    /// <summary>
    /// Where column c (0..31) of a panel row sits among its 32 bfloat16 values. The kernel widens a row with two
    /// in-lane word interleaves (vpunpcklwd/vpunpckhwd with zero), which take words 0–3 and 4–7 of each 128-bit lane;
    /// storing columns 4L..4L+3 at words 8L..8L+3 and 16+4L..16+4L+3 at words 8L+4..8L+7 makes the two results come out
    /// as columns 0–15 and 16–31 in order.
    /// </summary>
    private static int BFloat16Slot(int c) => c < 16 ? c / 4 * 8 + c % 4 : (c - 16) / 4 * 8 + 4 + c % 4;

    /// <summary>fp32 → bfloat16, rounding to nearest even (NaN stays a quiet NaN).</summary>
    public static ushort ToBFloat16(float x) => Kernels.ReducedPrecisionKernels.ToBFloat16(x);

    /// <summary>The value stored at (p, column), as fp32 (for tests and checks).</summary>
    public float this[int p, int column]
    {
        get
        {
            if ((uint)p >= (uint)K || (uint)column >= (uint)N) throw new ArgumentOutOfRangeException(nameof(p));
            long index = (long)(column / PanelWidth) * PanelWidth * K + (long)p * PanelWidth + column % PanelWidth;
            return Precision == WeightPrecision.Float32
                ? storage.Pointer[index]
                : BitConverter.UInt32BitsToSingle((uint)((ushort*)storage.Pointer)[index - column % PanelWidth + BFloat16Slot(column % PanelWidth)] << 16);
        }
    }

    /// <summary>
    /// C[m, n] = A[m, k]·op(B) + bias (bias [n] or null; C is overwritten). Any m; panels are split across the
    /// worker threads, and every element is summed over k in the same order whatever the thread count. From
    /// <see cref="WidenedRows"/> rows the panels are widened to fp32 block by block and multiplied by the GEMM.
    /// </summary>
    public void Multiply(int m, float* a, int lda, float* c, int ldc, float* bias, bool parallel = true)
    {
        if (!Supported) throw new PlatformNotSupportedException("PackedMatrix needs AVX-512 (see Supported).");
        if (m <= 0 || N == 0) return;
        if (K == 0)
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < N; j++) c[(long)i * ldc + j] = bias == null ? 0f : bias[j];
            return;
        }
        if (m >= WidenedRows)
        {
            MultiplyWidened(m, a, lda, c, ldc, bias, parallel);
            return;
        }
        // A repacked in 8-row tiles, k-major: tile t holds A[8t..8t+7, p] at [t][p][0..7] (zero rows past m).
        int tiles = (m + RowTile - 1) / RowTile;
        float* packedA = Kernels.KernelSupport.Scratch(ref aScratch, (long)tiles * RowTile * K);
        for (int t = 0; t < tiles; t++)
        {
            float* tile = packedA + (long)t * RowTile * K;
            float* first = a + (long)t * RowTile * lda;
            if (t * RowTile + RowTile <= m && (long)lda * (RowTile - 1) <= int.MaxValue / 4)
            {
                // A full tile: one gather collects column p of its eight rows.
                var offsets = Vector256.Create(0, lda, 2 * lda, 3 * lda, 4 * lda, 5 * lda, 6 * lda, 7 * lda);
                for (int p = 0; p < K; p++) Avx2.GatherVector256(first + p, offsets, 4).Store(tile + p * RowTile);
                continue;
            }
            for (int r = 0; r < RowTile; r++)
            {
                int row = t * RowTile + r;
                float* source = a + (long)row * lda;
                if (row < m) for (int p = 0; p < K; p++) tile[p * RowTile + r] = source[p];
                else for (int p = 0; p < K; p++) tile[p * RowTile + r] = 0f;
            }
        }
        var job = new Job { Matrix = this, M = m, A = a, Lda = lda, PackedA = packedA, C = c, Ldc = ldc, Bias = bias, Parts = 1 };
        int threads = Parallelism.ThreadCount;
        if (parallel && threads > 1 && panels > 1 && (long)m * N * K >= 1 << 16)
        {
            job.Parts = Math.Min(threads, panels);
            if (WorkerPool.TryRun(ref job)) return;
            job.Parts = 1;
        }
        job.RunPart(0);
    }

    /// <summary>True where <see cref="Multiply"/> runs (AVX-512).</summary>
    public static bool Supported => Vector512.IsHardwareAccelerated && Avx512BW.IsSupported && Avx2.IsSupported;

    [ThreadStatic] private static float[]? aScratch;

    private struct Job : IParallelJob
    {
        public PackedMatrix Matrix;
        public int M, Lda, Ldc;
        public float* A, PackedA, C, Bias;
        public int Parts { readonly get; set; }

        public readonly void RunPart(int part)
        {
            int panels = Matrix.panels;
            int first = (int)((long)panels * part / Parts), last = (int)((long)panels * (part + 1) / Parts);
            if (Matrix.Precision == WeightPrecision.Float32) Matrix.Panels<Float32Panel>(in this, first, last);
            else Matrix.Panels<BFloat16Panel>(in this, first, last);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Panels<TFormat>(in Job job, int firstPanel, int lastPanel) where TFormat : struct, IPanelFormat
    {
        byte* values = (byte*)storage.Pointer;
        float* edge = stackalloc float[RowTile * PanelWidth];
        for (int panel = firstPanel; panel < lastPanel; panel++)
        {
            byte* panelValues = values + (long)panel * PanelWidth * K * TFormat.BytesPerValue;
            int column = panel * PanelWidth, columns = Math.Min(PanelWidth, N - column);
            float* bias = job.Bias == null ? null : job.Bias + column;
            if (job.M == 1)
            {
                // One row (batch-1 decoding): the panel streams through four independent accumulator pairs.
                RowTimesPanel<TFormat>(job.A, K, panelValues, bias, job.C + column, columns);
                continue;
            }
            for (int p0 = 0; p0 < K; p0 += DepthBlock)
            {
                int depth = Math.Min(DepthBlock, K - p0);
                byte* block = panelValues + (long)p0 * PanelWidth * TFormat.BytesPerValue;
                for (int row = 0; row < job.M; row += RowTile)
                {
                    int rows = Math.Min(RowTile, job.M - row);
                    float* tileA = job.PackedA + (long)row * K + (long)p0 * RowTile;
                    float* target = job.C + (long)row * job.Ldc + column;
                    bool direct = rows == RowTile && columns == PanelWidth;
                    if (!direct)
                    {
                        // Edge tile: work in a full 8 × 32 scratch tile, then copy the valid part back.
                        for (int r = 0; r < RowTile; r++)
                            for (int j = 0; j < PanelWidth; j++)
                                edge[r * PanelWidth + j] = p0 > 0 && r < rows && j < columns ? target[(long)r * job.Ldc + j] : 0f;
                    }
                    Tile<TFormat>(tileA, depth, block, direct ? target : edge, direct ? job.Ldc : PanelWidth,
                        p0 == 0 ? bias : null, accumulate: p0 > 0, biasColumns: columns);
                    if (!direct)
                        for (int r = 0; r < rows; r++)
                            for (int j = 0; j < columns; j++) target[(long)r * job.Ldc + j] = edge[r * PanelWidth + j];
                }
            }
        }
    }

    /// <summary>
    /// C[0..8, 0..32] (+)= A_tile·panel over <paramref name="depth"/> rows of the panel: 16 accumulators, per k step two
    /// panel vectors and eight broadcasts of A. Starts from C (<paramref name="accumulate"/>), the bias, or zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TFormat>(float* a, int depth, byte* b, float* c, nint ldc, float* bias, bool accumulate, int biasColumns)
        where TFormat : struct, IPanelFormat
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (accumulate)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            Vector512<float> low = default, high = default;
            if (bias != null) LoadBias(bias, biasColumns, out low, out high);
            c00 = c10 = c20 = c30 = c40 = c50 = c60 = c70 = low;
            c01 = c11 = c21 = c31 = c41 = c51 = c61 = c71 = high;
        }
        for (int p = 0; p < depth; p++)
        {
            // The hardware prefetcher falls behind while the FMAs run; ask for the panel rows ahead explicitly.
            Sse.Prefetch0(b + PrefetchBytes);
            if (TFormat.BytesPerValue == 4) Sse.Prefetch0(b + PrefetchBytes + 64);
            TFormat.Load(b, out var b0, out var b1);
            b += PanelWidth * TFormat.BytesPerValue;
            var x = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
            a += RowTile;
        }
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }

    /// <summary>c[0..columns) = a·panel + bias for one row of A; k split over four accumulator pairs (summed at the end).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowTimesPanel<TFormat>(float* a, int k, byte* b, float* bias, float* c, int columns)
        where TFormat : struct, IPanelFormat
    {
        Vector512<float> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector512<float> s20 = default, s21 = default, s30 = default, s31 = default;
        int step = PanelWidth * TFormat.BytesPerValue, p = 0;
        for (; p <= k - 4; p += 4)
        {
            TFormat.Load(b, out var b0, out var b1);
            var x = Vector512.Create(a[p]); s00 = Avx512F.FusedMultiplyAdd(x, b0, s00); s01 = Avx512F.FusedMultiplyAdd(x, b1, s01);
            TFormat.Load(b + step, out b0, out b1);
            x = Vector512.Create(a[p + 1]); s10 = Avx512F.FusedMultiplyAdd(x, b0, s10); s11 = Avx512F.FusedMultiplyAdd(x, b1, s11);
            TFormat.Load(b + 2 * step, out b0, out b1);
            x = Vector512.Create(a[p + 2]); s20 = Avx512F.FusedMultiplyAdd(x, b0, s20); s21 = Avx512F.FusedMultiplyAdd(x, b1, s21);
            TFormat.Load(b + 3 * step, out b0, out b1);
            x = Vector512.Create(a[p + 3]); s30 = Avx512F.FusedMultiplyAdd(x, b0, s30); s31 = Avx512F.FusedMultiplyAdd(x, b1, s31);
            b += 4 * step;
        }
        for (; p < k; p++)
        {
            TFormat.Load(b, out var b0, out var b1);
            var x = Vector512.Create(a[p]); s00 = Avx512F.FusedMultiplyAdd(x, b0, s00); s01 = Avx512F.FusedMultiplyAdd(x, b1, s01);
            b += step;
        }
        var low = (s00 + s10) + (s20 + s30);
        var high = (s01 + s11) + (s21 + s31);
        if (bias != null)
        {
            LoadBias(bias, columns, out var biasLow, out var biasHigh);
            low += biasLow;
            high += biasHigh;
        }
        if (columns == PanelWidth)
        {
            low.Store(c);
            high.Store(c + 16);
            return;
        }
        float* row = stackalloc float[PanelWidth];
        low.Store(row);
        high.Store(row + 16);
        for (int j = 0; j < columns; j++) c[j] = row[j];
    }

    private static void LoadBias(float* bias, int columns, out Vector512<float> low, out Vector512<float> high)
    {
        if (columns == PanelWidth)
        {
            low = Vector512.Load(bias);
            high = Vector512.Load(bias + 16);
            return;
        }
        float* padded = stackalloc float[PanelWidth];
        for (int j = 0; j < PanelWidth; j++) padded[j] = j < columns ? bias[j] : 0f;
        low = Vector512.Load(padded);
        high = Vector512.Load(padded + 16);
    }

    public void Dispose() => storage.Dispose();

    /// <summary>How 32 consecutive panel values are read into two fp32 vectors.</summary>
    private interface IPanelFormat
    {
        static abstract int BytesPerValue { get; }

        static abstract void Load(byte* values, out Vector512<float> low, out Vector512<float> high);
    }

    private struct Float32Panel : IPanelFormat
    {
        public static int BytesPerValue => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* values, out Vector512<float> low, out Vector512<float> high)
        {
            low = Vector512.Load((float*)values);
            high = Vector512.Load((float*)values + 16);
        }
    }

    private struct BFloat16Panel : IPanelFormat
    {
        public static int BytesPerValue => 2;

        // bfloat16 is the top half of an fp32: interleaving zero words below each value widens it exactly
        // (the packing order, BFloat16Slot, makes the interleaves yield columns 0–15 and 16–31).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* values, out Vector512<float> low, out Vector512<float> high)
        {
            var raw = Vector512.Load((ushort*)values);
            low = Avx512BW.UnpackLow(Vector512<ushort>.Zero, raw).AsSingle();
            high = Avx512BW.UnpackHigh(Vector512<ushort>.Zero, raw).AsSingle();
        }
    }
}
