// Packed, cache-blocked, register-tiled SGEMM in the style of BLIS/OpenBLAS, with its own deterministic threading.
using System.Runtime.CompilerServices;
using Rlhf.Tensors.Kernels;

namespace Rlhf.Tensors;

/// <summary>Which micro-kernel a <see cref="ManagedGemm"/> runs.</summary>
internal enum GemmKernelKind
{
    /// <summary>Best available on this machine.</summary>
    Auto,
    /// <summary>Vector512 FMA, 12×32 micro-tile.</summary>
    Avx512,
    /// <summary>Vector256 FMA (AVX2), 6×16 micro-tile.</summary>
    Avx2,
    /// <summary>Plain scalar 4×4 micro-tile.</summary>
    Scalar,
}

/// <summary>
/// Managed SGEMM. Blocking (BLIS loop order): for each NC-wide column block of C, for each KC-deep slice of k,
/// pack op(B)[KC×NC] (kept in L3) into NR-wide panels; for each MC-tall row block, pack op(A)[MC×KC] (kept in L2)
/// into MR-tall panels; then sweep NR×MR micro-tiles, each B micro-panel (KC×NR, ~32 KiB) staying in L1 while the
/// A micro-panels stream past it. Threads split C into disjoint column (or row) ranges; every element of C is
/// always summed in the same order (fixed KC slices), so results do not depend on thread count or timing.
/// Sizes (AVX-512, Zen: 48 KiB L1d, 1 MiB L2): MR×NR = 12×32, KC = 256 (B micro-panel 32 KiB),
/// MC = 384 (A block 384 KiB), NC = 4096 (B block 4 MiB per thread); blocks are balanced, e.g. k = 768 → 3×256.
/// </summary>
internal sealed unsafe class ManagedGemm : IGemmProvider
{
    public static readonly ManagedGemm Instance = new(GemmKernelKind.Auto);

    // Problems below this many multiply-adds run on the calling thread even when parallel is requested.
    private const double ParallelThreshold = 1 << 23;

    private readonly delegate*<int, float*, float*, float*, nint, float, float, void> kernel;
    private readonly int mr, nr, kcMax, mcMax, ncMax;

    public ManagedGemm(GemmKernelKind kind = GemmKernelKind.Auto)
    {
        if (kind == GemmKernelKind.Auto)
            kind = GemmKernels.Avx512Supported ? GemmKernelKind.Avx512 : GemmKernels.Avx2Supported ? GemmKernelKind.Avx2 : GemmKernelKind.Scalar;
        switch (kind)
        {
            case GemmKernelKind.Avx512:
                if (!GemmKernels.Avx512Supported) throw new PlatformNotSupportedException("Vector512 FMA is not hardware-accelerated here.");
                kernel = &GemmKernels.Kernel512;
                (mr, nr, kcMax, mcMax, ncMax) = (GemmKernels.Mr512, GemmKernels.Nr512, 256, 384, 4096);
                break;
            case GemmKernelKind.Avx2:
                if (!GemmKernels.Avx2Supported) throw new PlatformNotSupportedException("AVX2/FMA is not supported here.");
                kernel = &GemmKernels.Kernel256;
                (mr, nr, kcMax, mcMax, ncMax) = (GemmKernels.Mr256, GemmKernels.Nr256, 256, 192, 4096);
                break;
            default:
                kernel = &GemmKernels.KernelScalar;
                (mr, nr, kcMax, mcMax, ncMax) = (GemmKernels.MrScalar, GemmKernels.NrScalar, 256, 128, 1024);
                break;
        }
        Kind = kind;
    }

    public GemmKernelKind Kind { get; }

    public string Name => "managed";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        Run(new Job
        {
            Gemm = this, TransA = transA, TransB = transB, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
            A = a, Lda = lda, B = b, Ldb = ldb, C = c, Ldc = ldc,
        }, parallel);
    }

    /// <summary>The width of the B panels <see cref="SgemmPanels"/> takes (this kernel's NR).</summary>
    public int PanelWidth => nr;

    /// <summary>
    /// C = alpha·A·B + beta·C with B [k, n] already in this kernel's B-panel layout: panel q (columns q·NR..) holds rows
    /// 0..k−1 of NR floats one after the other at <paramref name="panels"/> + q·NR·k, zero past n (PackedMatrix's fp32
    /// layout at NR = 32). B is not packed again; the blocking, and so every sum, is that of <see cref="Sgemm"/>.
    /// </summary>
    public void SgemmPanels(int m, int n, int k, float alpha, float* a, int lda, float* panels, float beta, float* c, int ldc, bool parallel = true)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        Run(new Job
        {
            Gemm = this, M = m, N = n, K = k, Alpha = alpha, Beta = beta, A = a, Lda = lda, C = c, Ldc = ldc, PanelsB = panels,
        }, parallel);
    }

    [ThreadStatic] private static float[]? termPanels;

    /// <summary>
    /// As <see cref="Sgemm"/>, then C += the low-rank term, added to each micro-tile right after its last k slice
    /// (while the tile is in L1): the term's factors are packed once into the kernel's panels and multiplied by the
    /// same micro-kernel with k = r.
    /// </summary>
    public void SgemmPlusTerm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, in LowRankTerm term, bool parallel = true)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0 || term.Rank <= 0)
        {
            Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);
            term.AddTo(c, ldc, m, n);
            return;
        }
        int r = term.Rank;
        long uLength = (long)RoundUp(m, mr) * r;
        float* panels = (float*)(((nuint)KernelSupport.Scratch(ref termPanels, uLength + (long)RoundUp(n, nr) * r + 16) + 63) & ~(nuint)63);
        GemmPacking.PackA(false, term.U, term.Ldu, 0, 0, m, r, mr, panels);
        GemmPacking.PackB(false, term.V, term.Ldv, 0, 0, r, n, nr, panels + uLength);
        Run(new Job
        {
            Gemm = this, TransA = transA, TransB = transB, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
            A = a, Lda = lda, B = b, Ldb = ldb, C = c, Ldc = ldc,
            Term = term, TermU = panels, TermV = panels + uLength,
        }, parallel);
    }

    private void Run(Job job, bool parallel)
    {
        int m = job.M, n = job.N, k = job.K;
        int threads = Parallelism.ThreadCount;
        if (parallel && threads > 1 && (double)m * n * k >= ParallelThreshold)
        {
            // Split the longer side of C into contiguous whole-tile ranges, one per thread.
            job.SplitN = n >= m;
            int tiles = job.SplitN ? (n + nr - 1) / nr : (m + mr - 1) / mr;
            job.Parts = Math.Min(threads, tiles);
            if (job.Parts > 1 && WorkerPool.TryRun(ref job)) return;
        }
        job.Parts = 1;
        job.RunPart(0);
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (nint)i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    /// <summary>One GEMM call: arguments plus how it is split across threads.</summary>
    internal struct Job : IParallelJob
    {
        public ManagedGemm Gemm;
        public bool TransA, TransB, SplitN;
        public int M, N, K;
        public int Parts { readonly get; set; }
        public float Alpha, Beta;
        public float* A, B, C;
        public int Lda, Ldb, Ldc;
        // The low-rank term (TermU null: none) and its factors packed as A and B panels of depth r.
        public LowRankTerm Term;
        public float* TermU, TermV;
        // B given already packed (SgemmPanels; null: pack op(B) from B).
        public float* PanelsB;

        /// <summary>Computes the part-th range of C on the current thread.</summary>
        public readonly void RunPart(int part)
        {
            var g = Gemm;
            int unit = SplitN ? g.nr : g.mr;
            int tiles = ((SplitN ? N : M) + unit - 1) / unit;
            int start = (int)((long)tiles * part / Parts) * unit;
            int end = Math.Min((int)((long)tiles * (part + 1) / Parts) * unit, SplitN ? N : M);
            if (end <= start) return;
            if (SplitN) g.Compute(in this, 0, M, start, end);
            else g.Compute(in this, start, end, 0, N);
        }
    }

    /// <summary>C[m0..m1, n0..n1] for the whole k range, single-threaded.</summary>
    // Fully optimised from the first call: the loops are long-running, so tier-0 code would skew early calls.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Compute(in Job job, int m0, int m1, int n0, int n1)
    {
        int k = job.K;
        // Balanced block sizes: equal-ish slices instead of a full block plus a thin remainder.
        int kc = Balanced(k, kcMax, 1);
        int mc = Balanced(m1 - m0, mcMax, mr);
        int nc = Balanced(n1 - n0, ncMax, nr);
        var buffers = GemmBuffers.ForCurrentThread(mc * kc, kc * RoundUp(nc, nr), mr * nr);
        float* packA = buffers.A, packB = buffers.B, tile = buffers.Tile;
        nint ldc = job.Ldc;

        for (int jc = n0; jc < n1; jc += nc)
        {
            int ncCur = Math.Min(nc, n1 - jc);
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcCur = Math.Min(kc, k - pc);
                float beta = pc == 0 ? job.Beta : 1f;
                bool addTerm = job.TermU != null && pc + kcCur == k;
                if (job.PanelsB == null) GemmPacking.PackB(job.TransB, job.B, job.Ldb, pc, jc, kcCur, ncCur, nr, packB);
                for (int ic = m0; ic < m1; ic += mc)
                {
                    int mcCur = Math.Min(mc, m1 - ic);
                    GemmPacking.PackA(job.TransA, job.A, job.Lda, ic, pc, mcCur, kcCur, mr, packA);
                    for (int jr = 0; jr < ncCur; jr += nr)
                    {
                        int nrCur = Math.Min(nr, ncCur - jr);
                        float* bp = job.PanelsB == null ? packB + (nint)jr * kcCur : job.PanelsB + (nint)(jc + jr) * k + (nint)pc * nr;
                        for (int ir = 0; ir < mcCur; ir += mr)
                        {
                            int mrCur = Math.Min(mr, mcCur - ir);
                            float* ap = packA + (nint)ir * kcCur;
                            float* cp = job.C + (ic + ir) * ldc + jc + jr;
                            if (mrCur == mr && nrCur == nr)
                            {
                                kernel(kcCur, ap, bp, cp, ldc, job.Alpha, beta);
                            }
                            else
                            {
                                // Edge tile: full tile into scratch, then merge the valid part.
                                kernel(kcCur, ap, bp, tile, nr, job.Alpha, 0f);
                                for (int r = 0; r < mrCur; r++)
                                {
                                    float* dst = cp + r * ldc;
                                    float* src = tile + r * nr;
                                    if (beta == 0) for (int j = 0; j < nrCur; j++) dst[j] = src[j];
                                    else for (int j = 0; j < nrCur; j++) dst[j] = src[j] + beta * dst[j];
                                }
                            }
                            if (addTerm) AddTerm(in job, ic + ir, jc + jr, mrCur, nrCur, cp, ldc, tile);
                        }
                    }
                }
            }
        }
    }

    /// <summary>The term on one finished micro-tile (row0, col0 multiples of MR and NR): one more k = r kernel call.</summary>
    private void AddTerm(in Job job, int row0, int col0, int rows, int cols, float* c, nint ldc, float* tile)
    {
        int r = job.Term.Rank;
        float* up = job.TermU + (nint)row0 * r, vp = job.TermV + (nint)col0 * r;
        if (rows == mr && cols == nr)
        {
            var mask = job.Term.Mask;
            if (!mask.Enabled)
            {
                kernel(r, up, vp, c, ldc, 1f, 1f);
                return;
            }
            if (mask.IsStored && Kind == GemmKernelKind.Avx512)
            {
                // The masked term in registers (same sums and fused multiply-adds as the tile + AddRow path below).
                GemmKernels.MaskedTerm512(r, up, vp, c, ldc, in mask, row0 * job.Term.MaskStride + col0, job.Term.MaskStride);
                return;
            }
        }
        kernel(r, up, vp, tile, nr, 1f, 0f);
        for (int i = 0; i < rows; i++) job.Term.AddRow(c + i * ldc, tile + i * nr, row0 + i, col0, cols);
    }

    private static int RoundUp(int x, int unit) => (x + unit - 1) / unit * unit;

    /// <summary>Splits length into ceil(length/max) near-equal blocks, each a multiple of unit (except the last).</summary>
    private static int Balanced(int length, int max, int unit)
    {
        int blocks = (length + max - 1) / max;
        return Math.Min(max, RoundUp((length + blocks - 1) / blocks, unit));
    }
}
