// AdamW, gradient clipping and learning-rate schedules against hand-computed values.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public unsafe class OptimizerTests
{
    private static ParameterSet TwoParameters() => new([("w", [2, 3], true), ("b", [3], false)]);

    [Fact]
    public void AdamWFirstStepsMatchTheFormula()
    {
        using var set = TwoParameters();
        set["w"].Value.Span.Fill(1f);
        set["b"].Value.Span.Fill(1f);
        using var optimizer = new AdamW(set, new AdamWOptions(0.9f, 0.999f, 1e-8f, WeightDecay: 0.1f));
        double pw = 1, pb = 1, m = 0, v = 0;
        const double lr = 0.01;
        for (int step = 1; step <= 3; step++)
        {
            set["w"].Gradient.Span.Fill(0.5f * step);
            set["b"].Gradient.Span.Fill(0.5f * step);
            optimizer.Step((float)lr);
            double g = 0.5 * step;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            double update = lr / (1 - Math.Pow(0.9, step)) * m / (Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(0.999, step)) + 1e-8);
            pw = pw * (1 - lr * 0.1) - update; // decayed
            pb -= update; // biases are not decayed
            Assert.All(set["w"].Value.ToArray(), x => Assert.Equal(pw, x, 1e-6));
            Assert.All(set["b"].Value.ToArray(), x => Assert.Equal(pb, x, 1e-6));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(5000)]
    public void AdamWVectorPathMatchesScalar(int count)
    {
        var rng = new Rng(1);
        var p1 = FiniteDifference.RandomArray(rng, count); var g = FiniteDifference.RandomArray(rng, count);
        var m1 = FiniteDifference.RandomArray(rng, count, 0.1); var v1 = FiniteDifference.RandomArray(rng, count, 0.1).Select(Math.Abs).ToArray();
        var (p2, m2, v2) = ((float[])p1.Clone(), (float[])m1.Clone(), (float[])v1.Clone());
        fixed (float* pp1 = p1, pg = g, pm1 = m1, pv1 = v1, pp2 = p2, pm2 = m2, pv2 = v2)
        {
            AdamWKernels.Step(pp1, pg, pm1, pv1, count, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step: 3);
            float stepSize = (float)(0.01 / (1 - Math.Pow(0.9, 3)));
            float correction = (float)(1 / Math.Sqrt(1 - Math.Pow(0.999, 3)));
            AdamWKernels.UpdateScalar(pp2, pg, pm2, pv2, count, 1 - 0.01f * 0.1f, stepSize, correction, 0.9f, 0.999f, 1e-8f);
        }
        for (int i = 0; i < count; i++) Assert.Equal(p2[i], p1[i], 1e-6f);
    }

    [Fact]
    public void ClippingScalesToTheMaximumNorm()
    {
        using var set = TwoParameters();
        set["w"].Gradient.Span.Fill(3f); // 6 × 9 = 54
        set["b"].Gradient.Span.Fill(-3f); // 3 × 9 = 27
        double norm = GradientClipping.ClipByGlobalNorm(set, 1.0);
        Assert.Equal(9.0, norm, 1e-9);
        Assert.Equal(1.0, GradientClipping.GlobalNorm(set), 1e-5);
        Assert.Equal(3f / 9f, set["w"].Gradient.Span[0], 1e-5f);
        // Below the limit nothing changes.
        double again = GradientClipping.ClipByGlobalNorm(set, 5.0);
        Assert.Equal(1.0, again, 1e-5);
        Assert.Equal(3f / 9f, set["w"].Gradient.Span[0], 1e-5f);
    }

    [Theory]
    [InlineData(17)]
    [InlineData(5000)]
    public void ClippingFoldedIntoTheUpdateEqualsClipThenStepThenZero(int count)
    {
        using var separate = new ParameterSet([("w", [count], true), ("b", [3], false)]);
        using var fused = new ParameterSet([("w", [count], true), ("b", [3], false)]);
        var rng = new Rng(5);
        rng.FillNormal(new Span<float>(separate.Values.Pointer, (int)separate.Values.Length), 0, 1);
        foreach (var parameter in separate.Parameters) rng.FillNormal(parameter.Gradient.Span, 0, 2);
        separate.Values.CopyTo(fused.Values);
        separate.Gradients.CopyTo(fused.Gradients);
        using var first = new AdamW(separate, new AdamWOptions(WeightDecay: 0.1f));
        using var second = new AdamW(fused, new AdamWOptions(WeightDecay: 0.1f));

        double norm = GradientClipping.ClipByGlobalNorm(separate, 1.0);
        first.Step(0.01f);
        separate.ZeroGradients();
        double fusedNorm = GradientClipping.GlobalNorm(fused);
        float coefficient = GradientClipping.ClipCoefficient(fusedNorm, 1.0);
        Assert.True(coefficient < 1f);
        second.Step(0.01f, coefficient, zeroGradients: true);

        Assert.Equal(norm, fusedNorm);
        Assert.Equal(new Span<float>(separate.Values.Pointer, (int)separate.Values.Length).ToArray(), new Span<float>(fused.Values.Pointer, (int)fused.Values.Length).ToArray()); // bit-identical
        Assert.All(new Span<float>(fused.Gradients.Pointer, (int)fused.Gradients.Length).ToArray(), g => Assert.Equal(0f, g));
        Assert.Equal(1f, GradientClipping.ClipCoefficient(0.5, 1.0));
        Assert.Equal(1f, GradientClipping.ClipCoefficient(double.NaN, 1.0));
        Assert.Equal(1f, GradientClipping.ClipCoefficient(10, 0));
    }

    [Fact]
    public void SchedulesWarmUpThenDecay()
    {
        var linear = new LearningRateSchedule(1f, WarmupSteps: 10, TotalSteps: 110, ScheduleKind.Linear);
        Assert.Equal(0f, linear.At(0));
        Assert.Equal(0.5f, linear.At(5), 1e-6f);
        Assert.Equal(1f, linear.At(10), 1e-6f);
        Assert.Equal(0.5f, linear.At(60), 1e-6f);
        Assert.Equal(0f, linear.At(110), 1e-6f);
        var cosine = new LearningRateSchedule(2f, 0, 100, ScheduleKind.Cosine);
        Assert.Equal(2f, cosine.At(0), 1e-6f);
        Assert.Equal(1f, cosine.At(50), 1e-5f);
        Assert.Equal(0f, cosine.At(100), 1e-6f);
        Assert.Equal(1f, new LearningRateSchedule(1f, 0, 10, ScheduleKind.Constant).At(7));
        Assert.Throws<ArgumentException>(() => LearningRateSchedule.ParseKind("exponential"));
    }

    [Fact]
    public void RngIsReproducibleAndRestorable()
    {
        var a = new Rng(42);
        var b = new Rng(42);
        for (int i = 0; i < 10; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
        var state = a.GetState();
        double next = a.NextGaussian();
        var c = new Rng(0);
        c.SetState(state);
        Assert.Equal(next, c.NextGaussian());
        Assert.NotEqual(new Rng(1).NextUInt64(), new Rng(2).NextUInt64());
    }
}
