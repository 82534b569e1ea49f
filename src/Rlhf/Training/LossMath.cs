// Numerically stable scalar helpers shared by the reward, DPO and PPO losses (softplus-form log σ, no overflow).
namespace Rlhf.Training;

internal static class LossMath
{
    /// <summary>softplus(x) = log(1 + eˣ), computed without overflow for any finite x.</summary>
    public static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    /// <summary>log σ(x) = −softplus(−x).</summary>
    public static double LogSigmoid(double x) => -Softplus(-x);

    /// <summary>σ(x) = 1 / (1 + e⁻ˣ), evaluated on the side that cannot overflow.</summary>
    public static double Sigmoid(double x)
    {
        if (x >= 0) return 1 / (1 + Math.Exp(-x));
        double e = Math.Exp(x);
        return e / (1 + e);
    }

    /// <summary>eˣ − 1 − x without cancellation near 0 (the k3 KL estimator); always ≥ 0.</summary>
    public static double ExpMinusOneMinusX(double x)
    {
        if (Math.Abs(x) < 1e-3) return x * x * (0.5 + x * (1.0 / 6 + x / 24));
        return Math.Max(0, Math.Exp(x) - 1 - x);
    }

    public static void RequireFinite(ReadOnlySpan<float> values, string name)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"{name}[{i}] is {values[i]}; expected a finite value.", name);
    }

    public static void RequireSameLength(int expected, int actual, string name)
    {
        if (actual != expected) throw new ArgumentException($"{name} has {actual} values; expected {expected}.", name);
    }

    public static float[] ToFloat(double[] values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = (float)values[i];
        return result;
    }
}
