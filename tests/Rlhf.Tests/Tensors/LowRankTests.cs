// The fused low-rank update (LowRankKernels, Ops.LowRankUpdate: y = base + s·(drop(x)·Aᵀ)·Bᵀ): kernels against a
// double-precision reference at odd sizes (rank not a multiple of 16, rows not of 4, widths not of 16), with and
// without dropout; finite differences of dA, dB, dx (and of the base linear's own gradients, in place or not); the
// fused op against the composition it replaces (Dropout, two LinearOutIn, Scale, Add) with the same mask.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class LowRankTests
{
    public static TheoryData<int, int, int, int, float> Shapes => new()
    {
        { 1, 1, 1, 1, 0f }, { 7, 37, 70, 5, 0f }, { 7, 37, 70, 5, 0.3f }, { 9, 64, 33, 20, 0.1f }, { 13, 130, 129, 16, 0.5f },
        { 4, 16, 64, 33, 0.05f }, { 70, 19, 18, 3, 0.2f },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void KernelsMatchTheDoubleReference(int rows, int inputs, int outputs, int rank, float p)
    {
        var tensors = new TestTensors(3);
        var x = tensors.Random(rows, inputs);
        var a = tensors.Random(rank, inputs);
        var b = tensors.Random(outputs, rank);
        var g = tensors.Random(rows, outputs);
        var y0 = tensors.Random(rows, outputs);
        const float scale = 1.7f;
        var mask = new DropoutMask(p, 42);
        double[] m = Enumerable.Range(0, rows * inputs).Select(i => (double)mask.Value(i)).ToArray();

        // Reference in double: low = drop(x)·Aᵀ, y = y0 + s·low·Bᵀ, dlow = s·g·B, dA = dlowᵀ·drop(x), dB = s·gᵀ·low, dx = m·(dlow·A).
        var (xs, aS, bS, gS) = (x.ToArray(), a.ToArray(), b.ToArray(), g.ToArray());
        var low = new double[rows * rank];
        var dlow = new double[rows * rank];
        for (int n = 0; n < rows; n++)
            for (int j = 0; j < rank; j++)
            {
                for (int k = 0; k < inputs; k++) low[n * rank + j] += m[n * inputs + k] * xs[n * inputs + k] * aS[j * inputs + k];
                for (int o = 0; o < outputs; o++) dlow[n * rank + j] += scale * (double)gS[n * outputs + o] * bS[o * rank + j];
            }
        double Y(int n, int o) => y0.Span[n * outputs + o] + scale * Enumerable.Range(0, rank).Sum(j => low[n * rank + j] * bS[o * rank + j]);
        double DA(int j, int k) => Enumerable.Range(0, rows).Sum(n => dlow[n * rank + j] * m[n * inputs + k] * xs[n * inputs + k]);
        double DB(int o, int j) => Enumerable.Range(0, rows).Sum(n => scale * (double)gS[n * outputs + o] * low[n * rank + j]);
        double DX(int n, int k) => m[n * inputs + k] * Enumerable.Range(0, rank).Sum(j => dlow[n * rank + j] * aS[j * inputs + k]);

        foreach (bool simd in new[] { true, false })
        {
            var y = tensors.Copy(y0);
            var lowOut = tensors.Zeros(rows, rank);
            var dx = tensors.Random(rows, inputs); // backward adds into pre-filled gradients
            var da = tensors.Random(rank, inputs);
            var db = tensors.Random(outputs, rank);
            var (dx0, da0, db0) = (tensors.Copy(dx), tensors.Copy(da), tensors.Copy(db));
            if (simd)
            {
                LowRankKernels.Forward(y.Pointer, lowOut.Pointer, x.Pointer, a.Pointer, b.Pointer, rows, inputs, outputs, rank, scale, mask);
                LowRankKernels.Backward(dx.Pointer, da.Pointer, db.Pointer, g.Pointer, lowOut.Pointer, x.Pointer, a.Pointer, b.Pointer,
                    rows, inputs, outputs, rank, scale, mask);
            }
            else
            {
                LowRankKernels.ForwardScalar(y.Pointer, lowOut.Pointer, x.Pointer, a.Pointer, b.Pointer, rows, inputs, outputs, rank, scale, mask);
                LowRankKernels.BackwardScalar(dx.Pointer, da.Pointer, db.Pointer, g.Pointer, lowOut.Pointer, x.Pointer, a.Pointer, b.Pointer,
                    rows, inputs, outputs, rank, scale, mask);
            }
            string kind = simd ? "SIMD" : "scalar";
            // fp32 sums of ≤ 130 products of N(0, 1) values: 1e-5 relative to the sum of magnitudes is several ulps of slack.
            Close($"{kind} low", lowOut.ToArray(), rows, rank, (n, j) => low[n * rank + j], inputs + 1);
            Close($"{kind} y", y.ToArray(), rows, outputs, Y, inputs * rank);
            Close($"{kind} dA", TestTensors.Minus(da, da0), rank, inputs, DA, rows * outputs);
            Close($"{kind} dB", TestTensors.Minus(db, db0), outputs, rank, DB, rows * inputs);
            Close($"{kind} dx", TestTensors.Minus(dx, dx0), rows, inputs, DX, outputs * rank);
        }
    }

    // |actual − expected| ≤ 2e-5·(1 + |expected|)·√terms (the error of an fp32 sum grows with its length).
    private static void Close(string name, float[] actual, int rows, int columns, Func<int, int, double> expected, int terms)
    {
        double tolerance = 2e-5 * Math.Sqrt(terms);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                double e = expected(r, c), error = Math.Abs(actual[r * columns + c] - e);
                Assert.True(error <= tolerance * (1 + Math.Abs(e)), $"{name}[{r},{c}] = {actual[r * columns + c]}, expected {e} (error {error:G3})");
            }
    }

    [Fact]
    public void OnlyTheNeededGradientsAreWritten()
    {
        const int rows = 6, inputs = 20, outputs = 17, rank = 3;
        var tensors = new TestTensors(4);
        var (x, a, b, g, low) = (tensors.Random(rows, inputs), tensors.Random(rank, inputs), tensors.Random(outputs, rank), tensors.Random(rows, outputs), tensors.Random(rows, rank));
        var mask = new DropoutMask(0.2f, 5);
        var all = (dx: tensors.Zeros(rows, inputs), da: tensors.Zeros(rank, inputs), db: tensors.Zeros(outputs, rank));
        LowRankKernels.Backward(all.dx.Pointer, all.da.Pointer, all.db.Pointer, g.Pointer, low.Pointer, x.Pointer, a.Pointer, b.Pointer, rows, inputs, outputs, rank, 2f, mask);
        var dxOnly = tensors.Zeros(rows, inputs);
        LowRankKernels.Backward(dxOnly.Pointer, null, null, g.Pointer, low.Pointer, x.Pointer, a.Pointer, b.Pointer, rows, inputs, outputs, rank, 2f, mask);
        var daOnly = tensors.Zeros(rank, inputs);
        LowRankKernels.Backward(null, daOnly.Pointer, null, g.Pointer, low.Pointer, x.Pointer, a.Pointer, b.Pointer, rows, inputs, outputs, rank, 2f, mask);
        var dbOnly = tensors.Zeros(outputs, rank);
        LowRankKernels.Backward(null, null, dbOnly.Pointer, g.Pointer, low.Pointer, x.Pointer, a.Pointer, b.Pointer, rows, inputs, outputs, rank, 2f, mask);
        Assert.Equal(all.dx.ToArray(), dxOnly.ToArray());
        Assert.Equal(all.da.ToArray(), daOnly.ToArray());
        Assert.Equal(all.db.ToArray(), dbOnly.ToArray());
        Assert.Contains(all.dx.ToArray(), v => v != 0f);
    }

    // The op on a base linear: y = LinearOutIn(x, W, bias) then LowRankUpdate; loss = Σ w·y.
    private sealed class Setup
    {
        public const int Rows = 5, Inputs = 19, Outputs = 23, Rank = 3;
        public const float Scale = 1.5f;
        public readonly TestTensors Tensors = new(8);
        public readonly Tensor X, W, Bias, A, B;
        public readonly float[] LossWeights;

        public Setup()
        {
            X = Tensors.Random(Rows, Inputs);
            W = Tensors.Random(Outputs, Inputs);
            Bias = Tensors.Random(Outputs);
            A = Tensors.Random(Rank, Inputs);
            B = Tensors.Random(Outputs, Rank);
            LossWeights = FiniteDifference.RandomArray(Tensors.Rng, Rows * Outputs);
        }

        /// <summary>The op's output; with <paramref name="fresh"/> false an op runs between the linear and the update (no in-place).</summary>
        public Node Forward(Ops ops, Node x, Node w, Node a, Node b, float p, bool fresh)
        {
            var output = ops.LinearOutIn(x, w, ops.Constant(Bias));
            if (!fresh) output = ops.Scale(output, 1f);
            return ops.LowRankUpdate(output, x, a, b, Scale, p, 99);
        }

        public double Loss(float p, bool fresh)
        {
            using var arena = new Arena();
            var ops = new Ops(arena, new Tape { Enabled = false });
            return FiniteDifference.Dot(Forward(ops, ops.Constant(X), ops.Constant(W), ops.Constant(A), ops.Constant(B), p, fresh).Value.Span, LossWeights);
        }
    }

    [Theory]
    [InlineData(0f, true)]
    [InlineData(0.3f, true)]
    [InlineData(0.3f, false)]
    public void GradientsMatchFiniteDifferences(float p, bool fresh)
    {
        var s = new Setup();
        using var arena = new Arena();
        var tape = new Tape();
        var ops = new Ops(arena, tape);
        var (x, w, a, b) = (new Node(s.X, true, arena), new Node(s.W, true, arena), new Node(s.A, true, arena), new Node(s.B, true, arena));
        var y = s.Forward(ops, x, w, a, b, p, fresh);
        s.LossWeights.CopyTo(y.Gradient.Span);
        tape.Backward();
        // The loss is linear in each of A, B, W and bilinear in x (through the base and the update): central differences
        // are exact up to fp32 rounding of the outputs (|y| ≲ 30, step 1e-2 → ~1e-4 error).
        double Loss() => s.Loss(p, fresh);
        FiniteDifference.Check("dA", s.A.Span, a.Gradient.ToArray(), Loss, step: 1e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dB", s.B.Span, b.Gradient.ToArray(), Loss, step: 1e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dW (the base linear's own gradient)", s.W.Span, w.Gradient.ToArray(), Loss, step: 1e-2, absTol: 2e-3, relTol: 1e-3);
        FiniteDifference.Check("dx", s.X.Span, x.Gradient.ToArray(), Loss, step: 1e-2, absTol: 2e-3, relTol: 1e-3);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.25f)]
    public void TheFusedOpEqualsTheCompositionItReplaces(float p)
    {
        var s = new Setup();
        (float[] Y, float[] Dx, float[] Da, float[] Db, float[] Dw) Run(bool fused)
        {
            using var arena = new Arena();
            var tape = new Tape();
            var ops = new Ops(arena, tape);
            var (x, w, a, b) = (new Node(s.X, true, arena), new Node(s.W, true, arena), new Node(s.A, true, arena), new Node(s.B, true, arena));
            Node y;
            if (fused) y = s.Forward(ops, x, w, a, b, p, fresh: true);
            else
            {
                var output = ops.LinearOutIn(x, w, ops.Constant(s.Bias));
                var dropped = ops.Dropout(x, p, 99);
                y = ops.Add(output, ops.Scale(ops.LinearOutIn(ops.LinearOutIn(dropped, a, null), b, null), Setup.Scale));
            }
            var value = y.Value.ToArray();
            s.LossWeights.CopyTo(y.Gradient.Span);
            tape.Backward();
            return (value, x.Gradient.ToArray(), a.Gradient.ToArray(), b.Gradient.ToArray(), w.Gradient.ToArray());
        }
        var fusedRun = Run(true);
        var composed = Run(false);
        // The same mask and products; only the summation order differs (≤ 1e-5 absolute on values of order 10).
        foreach (var (name, f, c) in new[] { ("y", fusedRun.Y, composed.Y), ("dx", fusedRun.Dx, composed.Dx), ("dA", fusedRun.Da, composed.Da),
                     ("dB", fusedRun.Db, composed.Db), ("dW", fusedRun.Dw, composed.Dw) })
        {
            double worst = f.Zip(c, (u, v) => Math.Abs(u - v) / Math.Max(1, Math.Abs(v))).Max();
            Assert.True(worst <= 1e-5, $"{name}: fused and composed differ by {worst:G3} (relative)");
        }
    }

    [Fact]
    public void AnUpdateIsAddedInPlaceOnlyIntoAFreshLinearOutput()
    {
        var s = new Setup();
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape());
        var x = new Node(s.X, true, arena);
        var linear = ops.LinearOutIn(x, ops.Constant(s.W), null);
        var updated = ops.LowRankUpdate(linear, x, new Node(s.A, true, arena), ops.Constant(s.B), Setup.Scale, 0f, 0);
        Assert.Same(linear, updated); // the same node: its gradient is shared with the linear's backward

        var other = ops.LinearOutIn(x, ops.Constant(s.W), null);
        var before = other.Value.ToArray();
        var scaled = ops.Scale(other, 2f); // an op read the linear's output: no longer fresh
        var sum = ops.LowRankUpdate(other, x, new Node(s.A, true, arena), ops.Constant(s.B), Setup.Scale, 0f, 0);
        Assert.NotSame(other, sum);
        Assert.Equal(before, other.Value.ToArray());
        Assert.Equal(before.Select(v => 2 * v).ToArray(), scaled.Value.ToArray());
    }
}
