// Tests for the kernels of rotary decoder families (RMSNorm, SwiGLU, rotary embedding, nn.Linear layout, token-only
// embedding, 16-bit conversions): SIMD vs scalar reference at odd sizes, a double-precision reference, central finite
// differences of every backward, and that backward kernels add into gradients. Tolerances are stated per check.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class DecoderKernelTests
{
    public static readonly TheoryData<int> Sizes = new() { 0, 1, 15, 16, 17, 63, 65 };

    private readonly TestTensors tensors = new(4321);

    private Tensor Random(params int[] shape) => tensors.Random(shape);

    private Tensor Zeros(params int[] shape) => tensors.Zeros(shape);

    private Tensor Copy(Tensor source) => tensors.Copy(source);

    private static float[] Minus(Tensor total, Tensor prefill) => TestTensors.Minus(total, prefill);

    // ---------------- RMSNorm ----------------

    [Theory]
    [MemberData(nameof(Sizes))]
    public void RmsNormMatchesScalarAndDouble(int channels)
    {
        foreach (int rows in new[] { 1, 3, 600 })
        {
            var x = Random(rows, channels);
            var w = Random(channels);
            const float eps = 1e-6f;
            var y = Zeros(rows, channels);
            var yScalar = Zeros(rows, channels);
            var rstd = Zeros(rows);
            var rstdScalar = Zeros(rows);
            RmsNormKernels.Forward(y.Pointer, rstd.Pointer, x.Pointer, w.Pointer, rows, channels, eps);
            RmsNormKernels.ForwardScalar(yScalar.Pointer, rstdScalar.Pointer, x.Pointer, w.Pointer, rows, channels, eps);
            KernelTests.AssertClose(yScalar.Span, y.Span, 1e-6, 1e-5, "rmsnorm");
            if (channels > 0) KernelTests.AssertClose(rstdScalar.Span, rstd.Span, 0, 1e-5, "rstd");

            // Independent double reference: x / sqrt(mean(x²) + eps) · w.
            var expected = new float[rows * channels];
            var xs = x.Span;
            for (int r = 0; r < rows; r++)
            {
                double squares = 0;
                for (int c = 0; c < channels; c++) squares += (double)xs[r * channels + c] * xs[r * channels + c];
                double s = 1 / Math.Sqrt(squares / channels + eps);
                for (int c = 0; c < channels; c++) expected[r * channels + c] = (float)(xs[r * channels + c] * s * w.Span[c]);
            }
            KernelTests.AssertClose(expected, y.Span, 1e-5, 1e-5, "rmsnorm vs double");

            var dy = Random(rows, channels);
            var dx = Random(rows, channels);
            var dxScalar = Copy(dx);
            var dw = Random(channels);
            var dwScalar = Copy(dw);
            RmsNormKernels.Backward(dx.Pointer, dw.Pointer, dy.Pointer, x.Pointer, w.Pointer, rstd.Pointer, rows, channels);
            RmsNormKernels.BackwardScalar(dxScalar.Pointer, dwScalar.Pointer, dy.Pointer, x.Pointer, w.Pointer, rstd.Pointer, rows, channels);
            KernelTests.AssertClose(dxScalar.Span, dx.Span, 1e-5, 1e-4, "rmsnorm dx");
            KernelTests.AssertClose(dwScalar.Span, dw.Span, 1e-3, 1e-4, "rmsnorm dw");
        }
    }

    [Fact]
    public void RmsNormBackwardFiniteDifferenceAndAdds()
    {
        const int rows = 5, channels = 19;
        const float eps = 1e-5f;
        var x = Random(rows, channels);
        var w = Random(channels);
        var y = Zeros(rows, channels);
        var rstd = Zeros(rows);
        var weights = Random(rows, channels); // loss = Σ weights ∘ y
        RmsNormKernels.Forward(y.Pointer, rstd.Pointer, x.Pointer, w.Pointer, rows, channels, eps);
        var prefillX = Random(rows, channels);
        var prefillW = Random(channels);
        var dx = Copy(prefillX);
        var dw = Copy(prefillW);
        RmsNormKernels.Backward(dx.Pointer, dw.Pointer, weights.Pointer, x.Pointer, w.Pointer, rstd.Pointer, rows, channels);
        var rstd2 = Zeros(rows);
        double Loss()
        {
            RmsNormKernels.Forward(y.Pointer, rstd2.Pointer, x.Pointer, w.Pointer, rows, channels, eps);
            return FiniteDifference.Dot(y.Span, weights.Span);
        }
        FiniteDifference.Check("rmsnorm dx", x.Span, Minus(dx, prefillX), Loss, step: 1e-3);
        FiniteDifference.Check("rmsnorm dw", w.Span, Minus(dw, prefillW), Loss, step: 1e-3);

        // A null weight gradient (frozen norm) still gives the same input gradient.
        var dxOnly = Zeros(rows, channels);
        RmsNormKernels.Backward(dxOnly.Pointer, null, weights.Pointer, x.Pointer, w.Pointer, rstd.Pointer, rows, channels);
        KernelTests.AssertClose(Minus(dx, prefillX), dxOnly.Span, 1e-5, 1e-5, "rmsnorm dx without dw");
    }

    // ---------------- SwiGLU ----------------

    [Theory]
    [MemberData(nameof(Sizes))]
    [InlineData(100_003)]
    public void SwiGluMatchesScalarAndDouble(int n)
    {
        var gate = Random(n);
        var up = Random(n);
        if (n > 3) { gate.Span[0] = 30f; gate.Span[1] = -30f; gate.Span[2] = -100f; gate.Span[3] = 1e-5f; }
        var y = Zeros(n);
        var yScalar = Zeros(n);
        SwiGluKernels.Forward(y.Pointer, gate.Pointer, up.Pointer, n);
        SwiGluKernels.ForwardScalar(yScalar.Pointer, gate.Pointer, up.Pointer, n);
        KernelTests.AssertClose(yScalar.Span, y.Span, 1e-6, 1e-5, "swiglu");
        var expected = new float[n];
        for (int i = 0; i < n; i++)
        {
            double g = gate.Span[i];
            expected[i] = (float)(g / (1 + Math.Exp(-g)) * up.Span[i]);
        }
        KernelTests.AssertClose(expected, y.Span, 1e-6, 1e-5, "swiglu vs double");

        var dy = Random(n);
        var dg = Random(n);
        var du = Random(n);
        var dgScalar = Copy(dg);
        var duScalar = Copy(du);
        SwiGluKernels.Backward(dg.Pointer, du.Pointer, dy.Pointer, gate.Pointer, up.Pointer, n);
        SwiGluKernels.BackwardScalar(dgScalar.Pointer, duScalar.Pointer, dy.Pointer, gate.Pointer, up.Pointer, n);
        KernelTests.AssertClose(dgScalar.Span, dg.Span, 1e-5, 1e-5, "swiglu dgate");
        KernelTests.AssertClose(duScalar.Span, du.Span, 1e-5, 1e-5, "swiglu dup");
    }

    [Fact]
    public void SwiGluBackwardFiniteDifferenceAndAdds()
    {
        const int n = 37;
        var gate = Random(n);
        var up = Random(n);
        var y = Zeros(n);
        var weights = Random(n);
        var prefillG = Random(n);
        var prefillU = Random(n);
        var dg = Copy(prefillG);
        var du = Copy(prefillU);
        SwiGluKernels.Backward(dg.Pointer, du.Pointer, weights.Pointer, gate.Pointer, up.Pointer, n);
        double Loss()
        {
            SwiGluKernels.Forward(y.Pointer, gate.Pointer, up.Pointer, n);
            return FiniteDifference.Dot(y.Span, weights.Span);
        }
        FiniteDifference.Check("swiglu dgate", gate.Span, Minus(dg, prefillG), Loss, step: 1e-3);
        FiniteDifference.Check("swiglu dup", up.Span, Minus(du, prefillU), Loss, step: 1e-3);
    }

    // ---------------- Rotary ----------------

    private (Tensor Cos, Tensor Sin) Tables(int headDim, int positions, double theta = 10000)
    {
        var (cos, sin) = RotaryFrequencies.Tables(RotaryFrequencies.Inverse(headDim, theta), positions);
        var c = Zeros(positions, headDim / 2);
        var s = Zeros(positions, headDim / 2);
        cos.CopyTo(c.Span);
        sin.CopyTo(s.Span);
        return (c, s);
    }

    [Theory]
    [InlineData(2, 1, 1)]
    [InlineData(6, 3, 5)]
    [InlineData(16, 2, 9)]
    [InlineData(34, 3, 7)]   // half = 17: one AVX-512 vector plus a tail
    [InlineData(66, 2, 300)] // parallel over many tokens
    public void RotaryMatchesScalarAndDouble(int headDim, int heads, int rows)
    {
        const int positions = 40;
        var (cos, sin) = Tables(headDim, positions);
        var positionIds = new int[rows];
        for (int n = 0; n < rows; n++) positionIds[n] = (n * 7 + 3) % positions;
        var x = Random(rows, heads * headDim);
        var y = Zeros(rows, heads * headDim);
        var yScalar = Zeros(rows, heads * headDim);
        fixed (int* ids = positionIds)
        {
            RotaryKernels.Forward(y.Pointer, x.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
            RotaryKernels.ForwardScalar(yScalar.Pointer, x.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
        }
        KernelTests.AssertClose(yScalar.Span, y.Span, 1e-6, 1e-6, "rotary");

        // Double reference of transformers' q·cos + rotate_half(q)·sin with cos = cat(cos, cos), angle = p / θ^(2i/D).
        int half = headDim / 2;
        var expected = new float[y.Length];
        for (int n = 0; n < rows; n++)
            for (int h = 0; h < heads; h++)
                for (int d = 0; d < headDim; d++)
                {
                    int i = d % half;
                    double angle = positionIds[n] / Math.Pow(10000, 2.0 * i / headDim);
                    double xd = x.Span[n * heads * headDim + h * headDim + d];
                    double rotated = d < half ? -x.Span[n * heads * headDim + h * headDim + d + half] : x.Span[n * heads * headDim + h * headDim + d - half];
                    expected[n * heads * headDim + h * headDim + d] = (float)(xd * Math.Cos(angle) + rotated * Math.Sin(angle));
                }
        KernelTests.AssertClose(expected, y.Span, 2e-5, 1e-5, "rotary vs double"); // fp32 angles (as transformers) at positions < 40

        // In place gives the same result.
        var inPlace = Copy(x);
        fixed (int* ids = positionIds)
            RotaryKernels.Forward(inPlace.Pointer, inPlace.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
        Assert.Equal(y.ToArray(), inPlace.ToArray());

        var dy = Random(rows, heads * headDim);
        var dx = Random(rows, heads * headDim);
        var dxScalar = Copy(dx);
        fixed (int* ids = positionIds)
        {
            RotaryKernels.Backward(dx.Pointer, dy.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
            RotaryKernels.BackwardScalar(dxScalar.Pointer, dy.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
        }
        KernelTests.AssertClose(dxScalar.Span, dx.Span, 1e-6, 1e-6, "rotary backward");
    }

    [Fact]
    public void RotaryBackwardFiniteDifferenceAndAdds()
    {
        const int headDim = 10, heads = 2, rows = 6;
        var (cos, sin) = Tables(headDim, 16, theta: 500000);
        int[] positionIds = [0, 0, 1, 5, 2, 15]; // left padding repeats position 0
        var x = Random(rows, heads * headDim);
        var y = Zeros(rows, heads * headDim);
        var weights = Random(rows, heads * headDim);
        var prefill = Random(rows, heads * headDim);
        var dx = Copy(prefill);
        fixed (int* ids = positionIds)
            RotaryKernels.Backward(dx.Pointer, weights.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
        FiniteDifference.Check("rotary dx", x.Span, Minus(dx, prefill), () =>
        {
            fixed (int* ids = positionIds)
                RotaryKernels.Forward(y.Pointer, x.Pointer, cos.Pointer, sin.Pointer, ids, rows, heads, headDim);
            return FiniteDifference.Dot(y.Span, weights.Span);
        });
    }

    [Fact]
    public void RotaryFrequenciesFollowTransformers()
    {
        // Default: inv_freq[i] = 1 / θ^(2i/D).
        var plain = RotaryFrequencies.Inverse(64, 10000);
        Assert.Equal(32, plain.Length);
        for (int i = 0; i < plain.Length; i++)
            Assert.Equal(1 / Math.Pow(10000, 2.0 * i / 64), plain[i], 1e-6 * (1 / Math.Pow(10000, 2.0 * i / 64)) + 1e-12);

        // Llama 3.2 1B: θ = 500000, factor 32, low 1, high 4, original context 8192 (double reference of the rule).
        var scaling = new Llama3RopeScaling(32, 1, 4, 8192);
        var scaled = RotaryFrequencies.Inverse(64, 500000, scaling);
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < 32; i++)
        {
            double inv = 1 / Math.Pow(500000, 2.0 * i / 64), wavelength = 2 * Math.PI / inv, expected;
            if (wavelength < 8192 / 4.0) { expected = inv; kept++; }
            else if (wavelength > 8192 / 1.0) { expected = inv / 32; divided++; }
            else
            {
                double smooth = (8192 / wavelength - 1) / (4 - 1);
                expected = (1 - smooth) * inv / 32 + smooth * inv;
                blended++;
            }
            Assert.True(Math.Abs(scaled[i] - expected) <= 2e-6 * expected, $"inv_freq[{i}]: expected {expected:G9}, got {scaled[i]:G9}");
        }
        Assert.True(kept > 0 && divided > 0 && blended > 0, $"kept {kept}, divided {divided}, blended {blended}");

        var (cos, sin) = RotaryFrequencies.Tables(plain, 3);
        Assert.Equal(1f, cos[0]);
        Assert.Equal(0f, sin[31]);
        Assert.Equal((float)Math.Cos(2f * plain[5]), cos[2 * 32 + 5]);
        Assert.Throws<ArgumentException>(() => RotaryFrequencies.Inverse(7, 10000));
    }

    // ---------------- nn.Linear layout ----------------

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 17, 5)]
    [InlineData(65, 33, 47)]
    [InlineData(130, 64, 96)]
    public void LinearOutInMatchesDoubleAndFiniteDifference(int rows, int inputs, int outputs)
    {
        var x = Random(rows, inputs);
        var w = Random(outputs, inputs);
        var b = Random(outputs);
        var y = Zeros(rows, outputs);
        y.Span.Fill(float.NaN); // overwritten, not accumulated
        LinearKernels.ForwardOutIn(y.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, inputs, outputs);
        var expected = new float[rows * outputs];
        for (int n = 0; n < rows; n++)
            for (int o = 0; o < outputs; o++)
            {
                double acc = b.Span[o];
                for (int i = 0; i < inputs; i++) acc += (double)x.Span[n * inputs + i] * w.Span[o * inputs + i];
                expected[n * outputs + o] = (float)acc;
            }
        KernelTests.AssertClose(expected, y.Span, 1e-4, 1e-4, "linear out-in");

        var noBias = Zeros(rows, outputs);
        LinearKernels.ForwardOutIn(noBias.Pointer, x.Pointer, w.Pointer, null, rows, inputs, outputs);
        for (int i = 0; i < expected.Length; i++) expected[i] -= b.Span[i % outputs];
        KernelTests.AssertClose(expected, noBias.Span, 1e-4, 1e-4, "linear out-in without bias");

        if (rows * inputs > 2000) return; // finite differences on the small shapes
        var weights = Random(rows, outputs);
        var prefillX = Random(rows, inputs);
        var prefillW = Random(outputs, inputs);
        var prefillB = Random(outputs);
        var dx = Copy(prefillX);
        var dw = Copy(prefillW);
        var db = Copy(prefillB);
        LinearKernels.BackwardOutIn(dx.Pointer, dw.Pointer, db.Pointer, weights.Pointer, x.Pointer, w.Pointer, rows, inputs, outputs);
        double Loss()
        {
            LinearKernels.ForwardOutIn(y.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, inputs, outputs);
            return FiniteDifference.Dot(y.Span, weights.Span);
        }
        FiniteDifference.Check("linear dx", x.Span, Minus(dx, prefillX), Loss);
        FiniteDifference.Check("linear dw", w.Span, Minus(dw, prefillW), Loss);
        FiniteDifference.Check("linear db", b.Span, Minus(db, prefillB), Loss);
    }

    [SkippableTheory]
    [InlineData(1, 17, 5)]
    [InlineData(9, 64, 33)]
    public void PackedFromOutInWeightEqualsLinearOutIn(int rows, int inputs, int outputs)
    {
        Skip.IfNot(PackedMatrix.Supported, "packed matrices need AVX-512");
        var x = Random(rows, inputs);
        var w = Random(outputs, inputs);
        var b = Random(outputs);
        var y = Zeros(rows, outputs);
        LinearKernels.ForwardOutIn(y.Pointer, x.Pointer, w.Pointer, b.Pointer, rows, inputs, outputs);
        using var packed = PackedMatrix.FromTransposed(w.Pointer, outputs, inputs, WeightPrecision.Float32); // inference packing of [out, in]
        var viaPacked = Zeros(rows, outputs);
        packed.Multiply(rows, x.Pointer, inputs, viaPacked.Pointer, outputs, b.Pointer);
        KernelTests.AssertClose(y.Span, viaPacked.Span, 1e-4, 1e-4, "packed out-in");
    }

    // ---------------- Token-only embedding ----------------

    [Theory]
    [MemberData(nameof(Sizes))]
    public void TokenEmbeddingMatchesScalarAndFiniteDifference(int channels)
    {
        foreach (int count in new[] { 0, 1, 9, 700 })
        {
            const int vocab = 7;
            var ids = new int[count];
            for (int i = 0; i < count; i++) ids[i] = (i * 5 + 2) % vocab; // repeated ids collide in the backward
            var table = Random(vocab, channels);
            var y = Zeros(count, channels);
            var yScalar = Zeros(count, channels);
            var dy = Random(count, channels);
            var g = Random(vocab, channels);
            var gScalar = Copy(g);
            fixed (int* t = ids)
            {
                EmbeddingKernels.ForwardTokens(y.Pointer, t, table.Pointer, count, channels);
                EmbeddingKernels.ForwardTokensScalar(yScalar.Pointer, t, table.Pointer, count, channels);
                EmbeddingKernels.BackwardTokens(g.Pointer, dy.Pointer, t, count, channels);
                EmbeddingKernels.BackwardTokensScalar(gScalar.Pointer, dy.Pointer, t, count, channels);
            }
            Assert.Equal(yScalar.ToArray(), y.ToArray());
            KernelTests.AssertClose(gScalar.Span, g.Span, 1e-5, 1e-5, "token embedding backward");
            if (count == 9 && channels == 17)
            {
                var fresh = Zeros(vocab, channels);
                fixed (int* t = ids) EmbeddingKernels.BackwardTokens(fresh.Pointer, dy.Pointer, t, count, channels);
                FiniteDifference.Check("token table", table.Span, fresh.Span, () =>
                {
                    fixed (int* t = ids) EmbeddingKernels.ForwardTokens(y.Pointer, t, table.Pointer, count, channels);
                    return FiniteDifference.Dot(y.Span, dy.Span);
                });
            }
        }
    }

    // ---------------- 16-bit conversions ----------------

    [Fact]
    public void SixteenBitToSingleIsExactForEveryValue()
    {
        var bits = new ushort[65536 + 13]; // every pattern, then a tail that is not a whole vector
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        var fromHalf = new float[bits.Length];
        var fromBrain = new float[bits.Length];
        var fromBrainScalar = new float[bits.Length];
        fixed (ushort* source = bits)
        fixed (float* half = fromHalf, brain = fromBrain, brainScalar = fromBrainScalar)
        {
            ReducedPrecisionKernels.HalfToSingle(half, source, bits.Length);
            ReducedPrecisionKernels.BFloat16ToSingle(brain, source, bits.Length);
            ReducedPrecisionKernels.BFloat16ToSingleScalar(brainScalar, source, bits.Length);
        }
        for (int i = 0; i < bits.Length; i++)
        {
            float expectedHalf = (float)BitConverter.UInt16BitsToHalf(bits[i]);
            if (float.IsNaN(expectedHalf)) Assert.True(float.IsNaN(fromHalf[i]), $"f16 {bits[i]:X4} should be NaN");
            else Assert.True(BitConverter.SingleToUInt32Bits(expectedHalf) == BitConverter.SingleToUInt32Bits(fromHalf[i]),
                $"f16 {bits[i]:X4}: expected {expectedHalf:G9}, got {fromHalf[i]:G9}");
            Assert.Equal((uint)bits[i] << 16, BitConverter.SingleToUInt32Bits(fromBrain[i]));
            Assert.Equal(BitConverter.SingleToUInt32Bits(fromBrainScalar[i]), BitConverter.SingleToUInt32Bits(fromBrain[i]));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(100_003)]
    public void SingleToSixteenBitRoundsToNearestEven(int n)
    {
        var rng = new Rng(77);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)rng.NextInt(int.MaxValue) * 2u + (uint)(i & 1));
        float[] special = [0f, -0f, 1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 65504f, 65520f, 1e-8f, 3.0e38f,
            BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000), BitConverter.UInt32BitsToSingle(0x7F7FFFFF),
            1f + MathF.Pow(2, -11), 1f + 3 * MathF.Pow(2, -11), MathF.Pow(2, -25), 3 * MathF.Pow(2, -25), -65519f, 6.1e-5f]; // bf16 and f16 ties, f16 subnormal ties
        for (int i = 0; i < Math.Min(n, special.Length); i++) values[i] = special[i];
        var brain = new ushort[n];
        var brainScalar = new ushort[n];
        var half = new ushort[n];
        fixed (float* source = values)
        fixed (ushort* b = brain, bs = brainScalar, h = half)
        {
            ReducedPrecisionKernels.SingleToBFloat16(b, source, n);
            ReducedPrecisionKernels.SingleToBFloat16Scalar(bs, source, n);
            ReducedPrecisionKernels.SingleToHalf(h, source, n);
        }
        Assert.Equal(brainScalar, brain);
        var halfScalar = new ushort[n];
        fixed (float* source = values)
        fixed (ushort* hs = halfScalar)
            ReducedPrecisionKernels.SingleToHalfScalar(hs, source, n);
        for (int i = 0; i < n; i++)
            if (!float.IsNaN(values[i])) Assert.True(halfScalar[i] == half[i], $"f16({values[i]:G9}): SIMD {half[i]:X4}, scalar {halfScalar[i]:X4}");
        for (int i = 0; i < n; i++)
        {
            float x = values[i];
            AssertNearestEven(x, BitConverter.UInt32BitsToSingle((uint)brain[i] << 16), brain[i], "bf16", step: bits => BitConverter.UInt32BitsToSingle((uint)bits << 16));
            AssertNearestEven(x, (float)BitConverter.UInt16BitsToHalf(half[i]), half[i], "f16", step: bits => (float)BitConverter.UInt16BitsToHalf(bits));
        }
    }

    /// <summary>The result is a nearest representable value (neighbours no closer), ties to the even pattern; NaN stays NaN.</summary>
    private static void AssertNearestEven(float x, float rounded, ushort bits, string format, Func<ushort, float> step)
    {
        if (float.IsNaN(x)) { Assert.True(float.IsNaN(rounded), $"{format}: NaN became {rounded}"); return; }
        if (float.IsInfinity(x)) { Assert.Equal(x, rounded); return; }
        if (float.IsInfinity(rounded)) return; // overflow (f16 above 65520, bf16 near float.MaxValue)
        double error = Math.Abs((double)x - rounded);
        foreach (int delta in new[] { -1, 1 })
        {
            var neighbour = step((ushort)(bits + delta));
            if (float.IsNaN(neighbour) || float.IsInfinity(neighbour) || Math.Sign(neighbour) != Math.Sign(rounded) && rounded != 0) continue;
            double other = Math.Abs((double)x - neighbour);
            Assert.True(error < other || (error == other && (bits & 1) == 0), $"{format}({x:G9}) = {rounded:G9}, but {neighbour:G9} is nearer or the even tie");
        }
    }
}
