// The fused LM head + log-softmax + gather against a naive double-precision implementation and finite differences.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public unsafe class LmHeadTests
{
    private static double[] NaiveLogProbs(float[] hidden, float[] embedding, int[] targets, int channels, int vocab)
    {
        var result = new double[targets.Length];
        for (int n = 0; n < targets.Length; n++)
        {
            if (targets[n] < 0) continue;
            var logits = new double[vocab];
            for (int v = 0; v < vocab; v++)
                for (int c = 0; c < channels; c++) logits[v] += (double)hidden[n * channels + c] * embedding[v * channels + c];
            double max = logits.Max();
            double lse = max + Math.Log(logits.Sum(x => Math.Exp(x - max)));
            result[n] = logits[targets[n]] - lse;
        }
        return result;
    }

    private static float[] Forward(float[] hidden, float[] embedding, int[] targets, int channels, int vocab)
    {
        int rows = targets.Length;
        var logProbs = new float[rows];
        var lse = new float[rows];
        var scratch = new float[LinearSoftmaxKernels.ScratchLength(rows, channels, vocab)];
        fixed (float* h = hidden, e = embedding, lp = logProbs, l = lse, s = scratch)
        fixed (int* t = targets)
            LinearSoftmaxKernels.Forward(lp, l, h, e, t, rows, channels, vocab, s);
        return logProbs;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 5, 17)]
    [InlineData(33, 16, 65)]
    [InlineData(900, 8, 40000)] // more rows than one chunk (838) holds
    public void LogProbsMatchNaive(int rows, int channels, int vocab)
    {
        var rng = new Rng(3);
        var hidden = FiniteDifference.RandomArray(rng, rows * channels);
        var embedding = FiniteDifference.RandomArray(rng, vocab * channels);
        var targets = Enumerable.Range(0, rows).Select(n => n % 3 == 1 ? -1 : rng.NextInt(vocab)).ToArray();
        var actual = Forward(hidden, embedding, targets, channels, vocab);
        var expected = NaiveLogProbs(hidden, embedding, targets, channels, vocab);
        for (int n = 0; n < rows; n++) Assert.Equal(expected[n], actual[n], 1e-4 * (1 + Math.Abs(expected[n])));
    }

    [Fact]
    public void RowHelpersMatchScalarReference()
    {
        var rng = new Rng(5);
        foreach (int length in new[] { 1, 15, 16, 17, 63, 65, 1000 })
        {
            var row = FiniteDifference.RandomArray(rng, length, 3);
            var copy = (float[])row.Clone();
            fixed (float* r = row, c = copy)
            {
                float simd = LinearSoftmaxKernels.LogSumExp(r, length), scalar = LinearSoftmaxKernels.LogSumExpScalar(r, length);
                Assert.Equal(scalar, simd, 1e-5f * (1 + Math.Abs(scalar)));
                LinearSoftmaxKernels.SoftmaxMinusOneHot(r, length, scalar, 0.5f, length / 2);
                LinearSoftmaxKernels.SoftmaxMinusOneHotScalar(c, length, scalar, 0.5f, length / 2);
            }
            for (int i = 0; i < length; i++) Assert.Equal(copy[i], row[i], 1e-6f);
        }
    }

    [Fact]
    public void BackwardMatchesFiniteDifferencesAndAdds()
    {
        const int rows = 6, channels = 5, vocab = 11;
        var rng = new Rng(9);
        var hidden = FiniteDifference.RandomArray(rng, rows * channels);
        var embedding = FiniteDifference.RandomArray(rng, vocab * channels);
        int[] targets = [3, -1, 0, 10, 7, 7];
        var upstream = FiniteDifference.RandomArray(rng, rows); // ∂L/∂logp
        double Loss() => FiniteDifference.Dot(Forward(hidden, embedding, targets, channels, vocab), upstream);

        var hiddenGrad = Enumerable.Repeat(0.25f, rows * channels).ToArray(); // pre-filled: backward must add
        var embeddingGrad = Enumerable.Repeat(-0.5f, vocab * channels).ToArray();
        var lse = new float[rows];
        var logProbs = new float[rows];
        var scratch = new float[LinearSoftmaxKernels.ScratchLength(rows, channels, vocab)];
        fixed (float* h = hidden, e = embedding, lp = logProbs, l = lse, s = scratch, dh = hiddenGrad, de = embeddingGrad, g = upstream)
        fixed (int* t = targets)
        {
            LinearSoftmaxKernels.Forward(lp, l, h, e, t, rows, channels, vocab, s);
            LinearSoftmaxKernels.Backward(dh, de, g, h, e, t, l, rows, channels, vocab, s);
        }
        FiniteDifference.Check("hidden", hidden, hiddenGrad.Select(x => x - 0.25f).ToArray(), Loss, step: 1e-2, absTol: 2e-3);
        FiniteDifference.Check("embedding", embedding, embeddingGrad.Select(x => x + 0.5f).ToArray(), Loss, step: 1e-2, absTol: 2e-3);
    }

    [Fact]
    public void EagerGradientEqualsBackwardWithConstantUpstream()
    {
        const int rows = 9, channels = 6, vocab = 23;
        var rng = new Rng(11);
        var hidden = FiniteDifference.RandomArray(rng, rows * channels);
        var embedding = FiniteDifference.RandomArray(rng, vocab * channels);
        var targets = Enumerable.Range(0, rows).Select(n => n == 4 ? -1 : rng.NextInt(vocab)).ToArray();
        var weights = Enumerable.Range(0, rows).Select(n => 0.1f * (n + 1)).ToArray();
        var upstream = weights.Select(w => -w).ToArray(); // L = −Σ w·logp ⇒ ∂L/∂logp = −w
        var eagerHidden = new float[rows * channels]; var eagerEmbedding = new float[vocab * channels];
        var lateHidden = new float[rows * channels]; var lateEmbedding = new float[vocab * channels];
        var lp = new float[rows]; var lse = new float[rows];
        var scratch = new float[LinearSoftmaxKernels.ScratchLength(rows, channels, vocab)];
        fixed (float* h = hidden, e = embedding, p = lp, l = lse, s = scratch, w = weights, g = upstream)
        fixed (float* eh = eagerHidden, ee = eagerEmbedding, dh = lateHidden, de = lateEmbedding)
        fixed (int* t = targets)
        {
            LinearSoftmaxKernels.Forward(p, l, h, e, t, rows, channels, vocab, s, w, eh, ee);
            LinearSoftmaxKernels.Backward(dh, de, g, h, e, t, l, rows, channels, vocab, s);
        }
        for (int i = 0; i < eagerHidden.Length; i++) Assert.Equal(lateHidden[i], eagerHidden[i], 1e-6f);
        for (int i = 0; i < eagerEmbedding.Length; i++) Assert.Equal(lateEmbedding[i], eagerEmbedding[i], 1e-6f);
    }

    [Theory]
    [InlineData(6, 5, 11)]
    [InlineData(900, 8, 40000)] // more rows than one chunk holds
    public void AFrozenWeightGivesTheSameHiddenGradientFromItsForward(int rows, int channels, int vocab)
    {
        // Ops.LinearLogProbs with a frozen weight computes ∂logp/∂h in the forward and only scales it in backward;
        // it must equal the trainable weight's recomputing backward, entropy and log-probs included.
        var rng = new Rng(13);
        var hidden = Tensor.FromArray(FiniteDifference.RandomArray(rng, rows * channels), rows, channels);
        var embedding = Tensor.FromArray(FiniteDifference.RandomArray(rng, vocab * channels), vocab, channels);
        var targets = Enumerable.Range(0, rows).Select(n => n % 5 == 1 ? -1 : rng.NextInt(vocab)).ToArray();
        var upstream = FiniteDifference.RandomArray(rng, rows);
        for (int n = 0; n < rows; n++) if (targets[n] < 0) upstream[n] = float.NaN; // rows without a target take no gradient
        (float[] LogProbs, float[] Entropy, float[] HiddenGrad) Run(bool frozen)
        {
            using var arena = new Arena();
            var tape = new Tape();
            var ops = new Ops(arena, tape);
            var h = new Node(hidden, true, arena);
            var w = frozen ? ops.Constant(embedding) : new Node(embedding, true, arena);
            var entropy = Tensor.Zeros(rows);
            var logProbs = ops.LinearLogProbs(h, w, targets, entropy);
            upstream.CopyTo(logProbs.Gradient.Span);
            var values = logProbs.Value.ToArray();
            tape.Backward();
            return (values, entropy.ToArray(), h.Gradient.ToArray());
        }
        var frozenRun = Run(true);
        var trainable = Run(false);
        Assert.Equal(trainable.LogProbs, frozenRun.LogProbs);
        Assert.Equal(trainable.Entropy, frozenRun.Entropy);
        Assert.All(frozenRun.HiddenGrad, v => Assert.True(float.IsFinite(v)));
        // The same products summed in another order: 1e-5 relative to the gradient's scale.
        double scale = trainable.HiddenGrad.Max(Math.Abs);
        for (int i = 0; i < rows * channels; i++)
            Assert.True(Math.Abs(frozenRun.HiddenGrad[i] - trainable.HiddenGrad[i]) <= 1e-5 * (1 + scale),
                $"hidden gradient [{i / channels}, {i % channels}]: {frozenRun.HiddenGrad[i]} vs {trainable.HiddenGrad[i]}");
    }

    [Fact]
    public void TargetOutsideVocabularyIsRejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Forward(new float[4], new float[8], [0, 5], 2, 4));
        Assert.Contains("Target id 5", error.Message);
    }
}
