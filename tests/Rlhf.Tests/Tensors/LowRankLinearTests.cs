// The linear layer with its LoRA adapter as one op (Ops.LowRankLinear, LowRankLinearKernels): the rank-r term the GEMM
// adds to each finished tile (LowRankTerm) against a double reference for every managed micro-kernel, the separate-pass
// fallback, transposes, several k slices, masks and odd sizes; the op against the base linear followed by
// LowRankUpdate (the path it replaces) in both weight layouts; finite differences of all its gradients.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class LowRankLinearTests
{
    public static TheoryData<string> Kernels => new() { "avx512", "avx2", "scalar" };

    private static ManagedGemm? Managed(string kind) => kind switch
    {
        "avx512" => GemmKernels.Avx512Supported ? new ManagedGemm(GemmKernelKind.Avx512) : null,
        "avx2" => GemmKernels.Avx2Supported ? new ManagedGemm(GemmKernelKind.Avx2) : null,
        _ => new ManagedGemm(GemmKernelKind.Scalar),
    };

    // (m, n, k, rank, dropout): tiles with edges, k over two KC = 256 slices (the term must be added once, after the last).
    private static readonly (int M, int N, int K, int Rank, float P)[] TermShapes =
    [
        (1, 1, 1, 1, 0f), (37, 45, 29, 5, 0f), (37, 45, 29, 5, 0.3f), (130, 70, 300, 16, 0.1f), (25, 97, 513, 20, 0.5f), (12, 32, 8, 3, 0f),
    ];

    [SkippableTheory]
    [MemberData(nameof(Kernels))]
    public void TheTermAddedInTheTilesMatchesTheDoubleReference(string kind)
    {
        var gemm = Managed(kind);
        Skip.If(gemm is null, $"The {kind} micro-kernel does not run on this CPU.");
        int case_ = 0;
        foreach (var (m, n, k, rank, p) in TermShapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                {
                    case_++;
                    float beta = case_ % 2 == 0 ? 0f : 0.5f, alpha = case_ % 3 == 0 ? -1.5f : 1f;
                    var t = new TestTensors((ulong)case_);
                    int ldc = n + case_ % 3;
                    var a = t.Random(m * k);
                    var b = t.Random(k * n);
                    var c0 = t.Random(m * ldc);
                    var u = t.Random(m * (rank + 1)); // row stride rank + 1
                    var v = t.Random(rank * (n + 2)); // row stride n + 2
                    var mask = new DropoutMask(p, 17);
                    double Expected(int i, int j)
                    {
                        double sum = 0, term = 0;
                        for (int q = 0; q < k; q++)
                            sum += (double)(transA ? a.Span[q * m + i] : a.Span[i * k + q]) * (transB ? b.Span[j * k + q] : b.Span[q * n + j]);
                        for (int q = 0; q < rank; q++) term += (double)u.Span[i * (rank + 1) + q] * v.Span[q * (n + 2) + j];
                        return alpha * sum + beta * c0.Span[i * ldc + j] + mask.Value((long)i * n + j) * term;
                    }
                    // The mask as the ops pass it: its bits stored (the AVX-512 kernel's masked-term path), else hashed.
                    var bits = new byte[DropoutMask.StoredBytes((long)m * n)];
                    fixed (byte* storage = bits) DropoutKernels.StoreBits((ushort*)storage, (long)m * n, mask);
                    float[]? hashed = null;
                    foreach (var (fallback, stored) in new[] { (false, false), (false, true), (true, false) })
                    {
                        var c = t.Copy(c0);
                        using var pin = stored ? new Memory<byte>(bits).Pin() : default;
                        var term = new LowRankTerm(u.Pointer, rank + 1, v.Pointer, n + 2, rank, stored ? mask.Stored((ushort*)pin.Pointer) : mask, n);
                        if (fallback)
                        {
                            // Providers without the fused term: the product, then the term in a separate pass.
                            ScalarGemm.Instance.Sgemm(transA, transB, m, n, k, alpha, a.Pointer, transA ? m : k, b.Pointer, transB ? k : n, beta, c.Pointer, ldc);
                            term.AddTo(c.Pointer, ldc, m, n);
                        }
                        else gemm!.SgemmPlusTerm(transA, transB, m, n, k, alpha, a.Pointer, transA ? m : k, b.Pointer, transB ? k : n, beta, c.Pointer, ldc, term, parallel: case_ % 4 != 0);
                        var actual = c.Span;
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < ldc; j++)
                            {
                                if (j >= n)
                                {
                                    Assert.Equal(c0.Span[i * ldc + j], actual[i * ldc + j]); // the padding of C is not written
                                    continue;
                                }
                                double e = Expected(i, j), error = Math.Abs(actual[i * ldc + j] - e);
                                // fp32 sums of ≤ 513 + 20 products of values in [-1, 1]: 2e-5·√terms relative is ample.
                                Assert.True(error <= 2e-5 * Math.Sqrt(k + rank) * (1 + Math.Abs(e)),
                                    $"{kind}{(fallback ? " fallback" : "")} m={m} n={n} k={k} r={rank} tA={transA} tB={transB}: C[{i},{j}] = {actual[i * ldc + j]}, expected {e}");
                            }
                        // Stored bits give the hashed mask's result bit for bit (same sums, same fused multiply-adds).
                        if (!fallback && !stored) hashed = c.ToArray();
                        if (stored) Assert.Equal(hashed, c.ToArray());
                    }
                }
    }

    // y = x·W' + bias with the adapter; loss = Σ w·y.
    private sealed class Setup(int rows, bool weightOutIn)
    {
        public const int Inputs = 37, Outputs = 45, Rank = 5;
        public const float Scale = 1.5f;
        public readonly int Rows = rows;
        public readonly bool WeightOutIn = weightOutIn;
        private readonly TestTensors tensors = new(11);
        public Tensor X = null!, W = null!, Bias = null!, A = null!, B = null!;
        public float[] LossWeights = null!;

        public Setup Init()
        {
            X = tensors.Random(Rows, Inputs);
            W = WeightOutIn ? tensors.Random(Outputs, Inputs) : tensors.Random(Inputs, Outputs);
            Bias = tensors.Random(Outputs);
            A = tensors.Random(Rank, Inputs);
            B = tensors.Random(Outputs, Rank);
            LossWeights = FiniteDifference.RandomArray(tensors.Rng, Rows * Outputs);
            return this;
        }

        public Node Fused(Ops ops, Node x, Node w, Node bias, Node a, Node b, float p) =>
            ops.LowRankLinear(x, w, bias, a, b, Scale, p, 99, WeightOutIn);

        public Node Composed(Ops ops, Node x, Node w, Node bias, Node a, Node b, float p)
        {
            var output = WeightOutIn ? ops.LinearOutIn(x, w, bias) : ops.Linear(x, w, bias);
            return ops.LowRankUpdate(output, x, a, b, Scale, p, 99);
        }

        public double Loss(float p)
        {
            using var arena = new Arena();
            var ops = new Ops(arena, new Tape { Enabled = false });
            return FiniteDifference.Dot(Fused(ops, ops.Constant(X), ops.Constant(W), ops.Constant(Bias), ops.Constant(A), ops.Constant(B), p).Value.Span, LossWeights);
        }
    }

    [Theory]
    [InlineData(5, true, 0f)]
    [InlineData(5, false, 0.3f)]
    [InlineData(40, true, 0f)]
    [InlineData(40, true, 0.25f)]
    [InlineData(40, false, 0.25f)]
    public void TheOpEqualsTheLinearFollowedByTheUpdate(int rows, bool weightOutIn, float p)
    {
        var s = new Setup(rows, weightOutIn).Init();
        float[][] Run(bool fused)
        {
            using var arena = new Arena();
            var tape = new Tape();
            var ops = new Ops(arena, tape);
            var (x, w, bias, a, b) = (new Node(s.X, true, arena), new Node(s.W, true, arena), new Node(s.Bias, true, arena), new Node(s.A, true, arena), new Node(s.B, true, arena));
            var y = fused ? s.Fused(ops, x, w, bias, a, b, p) : s.Composed(ops, x, w, bias, a, b, p);
            var value = y.Value.ToArray();
            s.LossWeights.CopyTo(y.Gradient.Span);
            tape.Backward();
            return [value, x.Gradient.ToArray(), w.Gradient.ToArray(), bias.Gradient.ToArray(), a.Gradient.ToArray(), b.Gradient.ToArray()];
        }
        var fusedRun = Run(true);
        var composed = Run(false);
        string[] names = ["y", "dx", "dW", "dbias", "dA", "dB"];
        // The same mask and products in another summation order: ≤ 1e-5 relative on values of order 10.
        for (int i = 0; i < names.Length; i++)
        {
            double worst = fusedRun[i].Zip(composed[i], (u, v) => Math.Abs(u - v) / Math.Max(1, Math.Abs(v))).Max();
            Assert.True(worst <= 1e-5, $"{names[i]}: the op and the composition differ by {worst:G3} (relative)");
            Assert.Contains(fusedRun[i], value => value != 0f);
        }
    }

    [Theory]
    [InlineData(20, true, 0f)]
    [InlineData(20, true, 0.3f)]
    [InlineData(20, false, 0.3f)]
    public void GradientsMatchFiniteDifferences(int rows, bool weightOutIn, float p)
    {
        var s = new Setup(rows, weightOutIn).Init();
        using var arena = new Arena();
        var tape = new Tape();
        var ops = new Ops(arena, tape);
        var (x, w, bias, a, b) = (new Node(s.X, true, arena), new Node(s.W, true, arena), new Node(s.Bias, true, arena), new Node(s.A, true, arena), new Node(s.B, true, arena));
        var y = s.Fused(ops, x, w, bias, a, b, p);
        s.LossWeights.CopyTo(y.Gradient.Span);
        tape.Backward();
        // The loss is linear in each of A, B, W, bias and in x (the mask fixed): central differences are exact for any step
        // up to the fp32 rounding of the 900 outputs (|y| ≲ 30: ~6e-5 on the loss), so a large step keeps that small.
        double Loss() => s.Loss(p);
        FiniteDifference.Check("dA", s.A.Span, a.Gradient.ToArray(), Loss, step: 5e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dB", s.B.Span, b.Gradient.ToArray(), Loss, step: 5e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dW", s.W.Span, w.Gradient.ToArray(), Loss, step: 5e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dbias", s.Bias.Span, bias.Gradient.ToArray(), Loss, step: 5e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dx", s.X.Span, x.Gradient.ToArray(), Loss, step: 5e-2, absTol: 2e-3, relTol: 1e-3);
    }
}
