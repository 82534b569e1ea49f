// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_.
namespace Rlhf.Tensors;

internal static unsafe class GradientClipping
{
    /// <summary>The L2 norm of all gradients together.</summary>
    public static double GlobalNorm(ParameterSet parameters)
    {
        double total = 0;
        foreach (var parameter in parameters.Trainable)
            total += Kernels.AdamWKernels.SumOfSquares(parameter.Gradient.Pointer, parameter.Gradient.Length);
        return Math.Sqrt(total);
    }

    /// <summary>
    /// Scales every gradient by min(1, maxNorm / (norm + 1e-6)) and returns the norm before clipping
    /// (non-finite norms are returned unchanged and nothing is scaled, so callers can skip the step).
    /// </summary>
    public static double ClipByGlobalNorm(ParameterSet parameters, double maxNorm)
    {
        double norm = GlobalNorm(parameters);
        float coefficient = ClipCoefficient(norm, maxNorm);
        if (coefficient != 1f)
        {
            foreach (var parameter in parameters.Trainable)
                Kernels.AdamWKernels.Scale(parameter.Gradient.Pointer, parameter.Gradient.Length, coefficient);
        }
        return norm;
    }

    /// <summary>
    /// The factor clip_grad_norm_ multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)); 1 when
    /// <paramref name="maxNorm"/> ≤ 0 (no clipping) or the norm is not finite. Pass it to <see cref="AdamW.Step"/>
    /// to clip inside the update instead of in a separate pass over the gradients.
    /// </summary>
    public static float ClipCoefficient(double norm, double maxNorm)
    {
        if (!double.IsFinite(norm) || maxNorm <= 0) return 1f;
        double coefficient = maxNorm / (norm + 1e-6);
        return coefficient < 1 ? (float)coefficient : 1f;
    }
}
