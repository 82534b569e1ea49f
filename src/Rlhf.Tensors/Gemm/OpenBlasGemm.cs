// SGEMM through OpenBLAS's cblas_sgemm, bound at run time from libopenblas.so.0 when the library is installed.
using System.Runtime.InteropServices;

namespace Rlhf.Tensors;

/// <summary>
/// OpenBLAS provider. OpenBLAS has no per-call thread count, so <c>parallel == false</c> is not forwarded:
/// OpenBLAS decides by itself (it runs small products, such as per-head attention, on the calling thread,
/// and serialises concurrent threaded calls internally). Results are correct either way.
/// </summary>
internal sealed unsafe class OpenBlasGemm : IGemmProvider
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;
    private static readonly string[] LibraryNames = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.dll", "openblas"];

    private static readonly Lazy<OpenBlasGemm?> Loaded = new(TryLoad);

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> sgemm;

    private OpenBlasGemm(nint function, string library)
    {
        sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)function;
        Library = library;
    }

    /// <summary>The OpenBLAS provider, or null when no OpenBLAS library with cblas_sgemm can be loaded.</summary>
    public static OpenBlasGemm? Instance => Loaded.Value;

    public static bool IsAvailable => Instance is not null;

    /// <summary>The library name that was loaded.</summary>
    public string Library { get; }

    public string Name => "openblas";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            // CBLAS rejects lda < 1 for an empty k; the result is just beta*C.
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + (nint)i * ldc, n);
                if (beta == 0) row.Clear();
                else if (beta != 1) for (int j = 0; j < n; j++) row[j] *= beta;
            }
            return;
        }
        sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static OpenBlasGemm? TryLoad()
    {
        foreach (string name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, out nint handle)) continue;
            if (NativeLibrary.TryGetExport(handle, "cblas_sgemm", out nint function)) return new OpenBlasGemm(function, name);
            NativeLibrary.Free(handle);
        }
        return null;
    }
}
