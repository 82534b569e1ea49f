// The decode GEMM on packed weights: against a double-precision reference at odd sizes (edge panels, partial row
// tiles, k not a multiple of the depth block), fp32 and bfloat16 storage, Conv1D and transposed sources.
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class PackedMatrixTests
{
    private readonly TestTensors tensors = new(2024);

    public static readonly TheoryData<int, int, int> Shapes = new()
    {
        { 1, 1, 1 }, { 1, 33, 17 }, { 2, 32, 5 }, { 7, 31, 64 }, { 8, 64, 256 }, { 9, 65, 257 }, { 16, 100, 300 },
        { 17, 40, 513 }, { 33, 3, 8 }, { 4, 0, 12 }, { 3, 20, 0 },
        { 64, 65, 257 }, { 131, 100, 37 }, // many rows: the panels widened to fp32 and multiplied by the GEMM
    };

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void MultiplyMatchesTheReference(int m, int n, int k)
    {
        Skip.IfNot(PackedMatrix.Supported, "packed matrices need AVX-512 (generation falls back to the unpacked model elsewhere)");
        var a = tensors.Random(m, k + 3); // lda > k
        var weights = tensors.Random(k, n);
        var transposedWeights = tensors.Zeros(n, k);
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) transposedWeights.Span[j * k + p] = weights.Span[p * n + j];
        var bias = tensors.Random(n);
        foreach (var precision in new[] { WeightPrecision.Float32, WeightPrecision.BFloat16 })
        foreach (bool transposed in new[] { false, true })
        foreach (bool withBias in new[] { false, true })
        {
            using var packed = transposed
                ? PackedMatrix.FromTransposed(transposedWeights.Pointer, n, k, precision)
                : PackedMatrix.FromRowMajor(weights.Pointer, k, n, precision);
            Assert.Equal(k, packed.K);
            Assert.Equal(n, packed.N);
            Assert.Equal((long)(n + 31) / 32 * 32 * k * (precision == WeightPrecision.Float32 ? 4 : 2), packed.Bytes);
            var c = tensors.Zeros(m, n + 2); // ldc > n: the columns past n must stay untouched
            c.Span.Fill(float.NaN);
            packed.Multiply(m, a.Pointer, k + 3, c.Pointer, n + 2, withBias ? bias.Pointer : null);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double expected = withBias ? bias.Span[j] : 0, magnitude = Math.Abs(expected);
                    for (int p = 0; p < k; p++)
                    {
                        // The reference uses the values as stored (bfloat16-rounded for BFloat16).
                        double w = precision == WeightPrecision.Float32 ? weights.Span[p * n + j] : BFloat16(weights.Span[p * n + j]);
                        Assert.Equal(w, packed[p, j]);
                        expected += (double)a.Span[i * (k + 3) + p] * w;
                        magnitude += Math.Abs(a.Span[i * (k + 3) + p] * w);
                    }
                    float actual = c.Span[i * (n + 2) + j];
                    Assert.True(Math.Abs(actual - expected) <= 1e-6 * (1 + magnitude),
                        $"{precision} transposed={transposed} bias={withBias} C[{i},{j}] = {actual}, expected {expected}");
                }
                Assert.True(float.IsNaN(c.Span[i * (n + 2) + n]) && float.IsNaN(c.Span[i * (n + 2) + n + 1]), "wrote past column n");
            }
        }
    }

    [SkippableFact]
    public void SingleThreadedAndParallelResultsAreIdentical()
    {
        Skip.IfNot(PackedMatrix.Supported, "packed matrices need AVX-512");
        var a = tensors.Random(16, 96);
        var weights = tensors.Random(96, 1000);
        using var packed = PackedMatrix.FromRowMajor(weights.Pointer, 96, 1000, WeightPrecision.BFloat16);
        var serial = tensors.Zeros(16, 1000);
        var parallel = tensors.Zeros(16, 1000);
        packed.Multiply(16, a.Pointer, 96, serial.Pointer, 1000, null, parallel: false);
        packed.Multiply(16, a.Pointer, 96, parallel.Pointer, 1000, null, parallel: true);
        Assert.Equal(serial.Span.ToArray(), parallel.Span.ToArray());
    }

    [SkippableTheory]
    [InlineData(64, 65, 257, false)]
    [InlineData(131, 1000, 300, false)]
    [InlineData(97, 70, 600, true)]
    [InlineData(70, 4200, 1100, true)] // two widened blocks of panels (16 MiB each)
    public void ManyRowsEqualTheGemmOnTheStoredValuesBitForBit(int m, int n, int k, bool bfloat16)
    {
        var precision = bfloat16 ? WeightPrecision.BFloat16 : WeightPrecision.Float32;
        // From WidenedRows rows the managed GEMM takes the panels as its packed B (in place, or widened bf16): the same
        // blocking and sums as the GEMM packing the same values itself, so the results must be identical, not close.
        Skip.IfNot(PackedMatrix.Supported && Gemm.Provider is ManagedGemm, "panels as the GEMM's B need AVX-512 and the managed GEMM");
        var a = tensors.Random(m, k + 5);
        var weights = tensors.Random(n, k); // [out, in], used transposed
        var bias = tensors.Random(n);
        using var packed = PackedMatrix.FromTransposed(weights.Pointer, n, k, precision);
        var stored = tensors.Zeros(k, n); // op(B) as the panels hold it (bf16-rounded for bf16)
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) stored.Span[p * n + j] = packed[p, j];
        var expected = tensors.Zeros(m, n);
        for (int i = 0; i < m; i++) bias.Span.CopyTo(expected.Span.Slice(i * n, n));
        ManagedGemm.Instance.Sgemm(false, false, m, n, k, 1f, a.Pointer, k + 5, stored.Pointer, n, 1f, expected.Pointer, n);
        var actual = tensors.Zeros(m, n);
        packed.Multiply(m, a.Pointer, k + 5, actual.Pointer, n, bias.Pointer);
        Assert.Equal(expected.Span.ToArray(), actual.Span.ToArray());
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        Assert.Equal(0x3F80, PackedMatrix.ToBFloat16(1f));
        Assert.Equal(0x3F80, PackedMatrix.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie → even (down)
        Assert.Equal(0x3F82, PackedMatrix.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie → even (up)
        Assert.Equal(0x3F81, PackedMatrix.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001))); // above the tie
        Assert.Equal(0xFF80, PackedMatrix.ToBFloat16(float.NegativeInfinity));
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)PackedMatrix.ToBFloat16(float.NaN) << 16)));
        Assert.Equal(0x7F80, PackedMatrix.ToBFloat16(float.MaxValue)); // rounds up to infinity, as torch does
    }

    private static double BFloat16(float x) => BitConverter.UInt32BitsToSingle((uint)PackedMatrix.ToBFloat16(x) << 16);
}
