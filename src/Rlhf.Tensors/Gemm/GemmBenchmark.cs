// Times GEMM providers on representative shapes (1024³ and GPT-2 forward/backward products); no console output.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Rlhf.Tensors;

/// <summary>One product to time: <c>C[M,N] = op(A)[M,K]·op(B)[K,N]</c>.</summary>
internal readonly record struct GemmShape(string Label, bool TransA, bool TransB, int M, int N, int K, bool Parallel = true);

/// <summary>Timing of one provider on one shape; <see cref="Milliseconds"/> is the best of the timed runs.</summary>
internal readonly record struct GemmBenchmarkResult(string Provider, string Label, bool TransA, bool TransB,
    int M, int N, int K, bool Parallel, double Milliseconds, double Gflops);

internal static unsafe class GemmBenchmark
{
    /// <summary>1024³ plus the GPT-2 (124M, 1024 tokens) products: forward, LM head, and backward.</summary>
    public static IReadOnlyList<GemmShape> DefaultShapes { get; } =
    [
        new("square 1024", false, false, 1024, 1024, 1024),
        new("qkv fwd", false, false, 1024, 2304, 768),
        new("mlp up fwd", false, false, 1024, 3072, 768),
        new("mlp down fwd", false, false, 1024, 768, 3072),
        new("lm head fwd", false, true, 1024, 50257, 768),
        new("qkv dW", true, false, 768, 2304, 1024),
        new("qkv dX", false, true, 1024, 768, 2304),
        new("mlp down dX", false, true, 1024, 3072, 768),
        new("attn QK^T head", false, true, 256, 256, 64, Parallel: false),
        new("attn PV head", false, false, 256, 64, 256, Parallel: false),
    ];

    /// <summary>Managed and (when it loads) OpenBLAS; the scalar reference is too slow for these shapes.</summary>
    public static IReadOnlyList<IGemmProvider> AvailableProviders()
    {
        var providers = new List<IGemmProvider> { ManagedGemm.Instance };
        if (OpenBlasGemm.Instance is { } openBlas) providers.Add(openBlas);
        return providers;
    }

    /// <summary>
    /// Times every provider on every shape: warm-up (at least <paramref name="warmups"/> calls and ~0.25 s), then
    /// <paramref name="runs"/> rounds in which the providers take turns (each sample repeated until it lasts
    /// ≥ ~2 ms for tiny shapes); reports each provider's best sample. Inputs are random, C starts as zero and
    /// beta = 0; row strides equal row lengths except the per-head QKᵀ shape, whose A and B are strided slices
    /// of a [M, 3·768] qkv matrix as in attention.
    /// </summary>
    public static IReadOnlyList<GemmBenchmarkResult> Run(IEnumerable<GemmShape>? shapes = null,
        IEnumerable<IGemmProvider>? providers = null, int runs = 5, int warmups = 2)
    {
        var providerList = (providers ?? AvailableProviders()).ToList();
        var results = new List<GemmBenchmarkResult>();
        var rng = new Rng(1234);
        foreach (var shape in shapes ?? DefaultShapes)
        {
            bool strided = shape is { TransB: true, K: 64, Parallel: false };
            int lda = strided ? 3 * 768 : shape.TransA ? shape.M : shape.K;
            int ldb = strided ? 3 * 768 : shape.TransB ? shape.K : shape.N;
            long sizeA = (long)(shape.TransA ? shape.K : shape.M) * lda;
            long sizeB = (long)(shape.TransB ? shape.N : shape.K) * ldb;
            long sizeC = (long)shape.M * shape.N;
            float* a = Allocate(sizeA, rng), b = Allocate(sizeB, rng), c = Allocate(sizeC, null);
            try
            {
                var calls = new Action[providerList.Count];
                var repeats = new int[providerList.Count];
                var best = new double[providerList.Count];
                for (int q = 0; q < providerList.Count; q++)
                {
                    var provider = providerList[q];
                    calls[q] = () => provider.Sgemm(shape.TransA, shape.TransB, shape.M, shape.N, shape.K, 1f,
                        a, lda, b, ldb, 0f, c, shape.N, shape.Parallel);
                    // Warm up for at least `warmups` calls and ~0.25 s, so JIT tiering and first-touch page
                    // faults (which steal a core on a 2-core machine) are over before timing starts.
                    long warmStart = Stopwatch.GetTimestamp();
                    for (int i = 0; i < warmups || Stopwatch.GetElapsedTime(warmStart).TotalMilliseconds < 250; i++) calls[q]();
                    // Repeat tiny products so each timed sample is long enough to measure.
                    long probe = Stopwatch.GetTimestamp();
                    calls[q]();
                    repeats[q] = (int)Math.Clamp(2.0 / Math.Max(Stopwatch.GetElapsedTime(probe).TotalMilliseconds, 1e-3), 1, 10_000);
                    best[q] = double.MaxValue;
                }
                // Providers take turns within each round, so a burst of outside load hits them alike.
                for (int r = 0; r < Math.Max(1, runs); r++)
                {
                    for (int q = 0; q < providerList.Count; q++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        for (int i = 0; i < repeats[q]; i++) calls[q]();
                        best[q] = Math.Min(best[q], Stopwatch.GetElapsedTime(start).TotalMilliseconds / repeats[q]);
                    }
                }
                for (int q = 0; q < providerList.Count; q++)
                {
                    double gflops = 2.0 * shape.M * shape.N * shape.K / (best[q] * 1e6);
                    results.Add(new GemmBenchmarkResult(providerList[q].Name, shape.Label, shape.TransA, shape.TransB,
                        shape.M, shape.N, shape.K, shape.Parallel, best[q], gflops));
                }
            }
            finally
            {
                NativeMemory.AlignedFree(a);
                NativeMemory.AlignedFree(b);
                NativeMemory.AlignedFree(c);
            }
        }
        return results;
    }

    private static float* Allocate(long count, Rng? rng)
    {
        var memory = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, count) * sizeof(float), 64);
        for (long i = 0; i < count; i++) memory[i] = rng is null ? 0f : (float)(rng.NextDouble() * 2 - 1);
        return memory;
    }
}
