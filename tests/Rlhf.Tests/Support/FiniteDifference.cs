// Central finite differences (accumulated in double) for checking analytic backward kernels.
using Rlhf.Tensors;
using Xunit;

namespace Rlhf.Tests.Support;

internal static class FiniteDifference
{
    /// <summary>
    /// Checks <paramref name="analytic"/> against <c>(f(x+h) - f(x-h)) / 2h</c> for every element of
    /// <paramref name="input"/> (or a random subset of <paramref name="maxChecks"/> elements).
    /// Passes when |analytic - numeric| ≤ absTol + relTol·max(|analytic|, |numeric|).
    /// </summary>
    public static void Check(string name, Span<float> input, ReadOnlySpan<float> analytic, Func<double> loss,
        double step = 1e-2, double absTol = 1e-3, double relTol = 1e-2, int maxChecks = 200, ulong seed = 7)
    {
        Assert.Equal(input.Length, analytic.Length);
        var rng = new Rng(seed);
        int count = Math.Min(maxChecks, input.Length);
        for (int c = 0; c < count; c++)
        {
            int i = input.Length <= maxChecks ? c : rng.NextInt(input.Length);
            float original = input[i];
            input[i] = (float)(original + step);
            double plus = loss();
            input[i] = (float)(original - step);
            double minus = loss();
            input[i] = original;
            double numeric = (plus - minus) / (2 * step);
            double error = Math.Abs(numeric - analytic[i]);
            double allowed = absTol + relTol * Math.Max(Math.Abs(numeric), Math.Abs(analytic[i]));
            Assert.True(error <= allowed,
                $"{name}[{i}]: analytic {analytic[i]:G6} vs numeric {numeric:G6} (error {error:G3} > {allowed:G3})");
        }
    }

    /// <summary>Σ weights·values in double: turns a tensor output into a scalar loss with a known gradient.</summary>
    public static double Dot(ReadOnlySpan<float> values, ReadOnlySpan<float> weights)
    {
        double sum = 0;
        for (int i = 0; i < values.Length; i++) sum += (double)values[i] * weights[i];
        return sum;
    }

    public static float[] RandomArray(Rng rng, int length, double scale = 1.0)
    {
        var values = new float[length];
        rng.FillNormal(values, 0, scale);
        return values;
    }
}
