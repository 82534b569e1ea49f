// SwiGLU gate of the Llama MLP (transformers' LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)), act_fn = SiLU):
// y = silu(gate)·up with silu(g) = g·σ(g), fused forward and backward.
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class SwiGluKernels
{
    /// <summary>output[N] = gate[N]·σ(gate[N])·up[N] (any shape, flattened; N = count). Parallel over chunks.</summary>
    public static void Forward(float* output, float* gate, float* up, long count) =>
        KernelSupport.ForElements(count, (s, e) => ForwardRange(output + s, gate + s, up + s, e - s));

    public static void ForwardScalar(float* output, float* gate, float* up, long count)
    {
        for (long i = 0; i < count; i++)
        {
            float g = gate[i];
            output[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>
    /// Adds into gateGrad[N] and upGrad[N] (either may be null) given outputGrad[N]. With σ = σ(g):
    /// ∂y/∂up = silu(g) = g·σ and ∂y/∂g = up·σ·(1 + g·(1 − σ)) (since σ' = σ(1 − σ)).
    /// </summary>
    public static void Backward(float* gateGrad, float* upGrad, float* outputGrad, float* gate, float* up, long count) =>
        KernelSupport.ForElements(count, (s, e) => BackwardRange(gateGrad == null ? null : gateGrad + s, upGrad == null ? null : upGrad + s,
            outputGrad + s, gate + s, up + s, e - s));

    public static void BackwardScalar(float* gateGrad, float* upGrad, float* outputGrad, float* gate, float* up, long count)
    {
        for (long i = 0; i < count; i++)
        {
            float g = gate[i], sigma = 1f / (1f + MathF.Exp(-g)), dy = outputGrad[i];
            if (gateGrad != null) gateGrad[i] += dy * up[i] * sigma * (1f + g * (1f - sigma));
            if (upGrad != null) upGrad[i] += dy * g * sigma;
        }
    }

    private static void ForwardRange(float* output, float* gate, float* up, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i <= n - 16; i += 16)
            {
                var g = Vector512.Load(gate + i);
                Vector512.Store(g / (one + VectorMath.Exp(-g)) * Vector512.Load(up + i), output + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (; i <= n - 8; i += 8)
            {
                var g = Vector256.Load(gate + i);
                Vector256.Store(g / (one + VectorMath.Exp(-g)) * Vector256.Load(up + i), output + i);
            }
        }
        if (i < n) ForwardScalar(output + i, gate + i, up + i, n - i);
    }

    private static void BackwardRange(float* gateGrad, float* upGrad, float* outputGrad, float* gate, float* up, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i <= n - 16; i += 16)
            {
                var g = Vector512.Load(gate + i);
                var sigma = one / (one + VectorMath.Exp(-g));
                var dy = Vector512.Load(outputGrad + i);
                if (gateGrad != null)
                    Vector512.Store(Vector512.Load(gateGrad + i) + dy * Vector512.Load(up + i) * sigma * (one + g * (one - sigma)), gateGrad + i);
                if (upGrad != null) Vector512.Store(Vector512.Load(upGrad + i) + dy * g * sigma, upGrad + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (; i <= n - 8; i += 8)
            {
                var g = Vector256.Load(gate + i);
                var sigma = one / (one + VectorMath.Exp(-g));
                var dy = Vector256.Load(outputGrad + i);
                if (gateGrad != null)
                    Vector256.Store(Vector256.Load(gateGrad + i) + dy * Vector256.Load(up + i) * sigma * (one + g * (one - sigma)), gateGrad + i);
                if (upGrad != null) Vector256.Store(Vector256.Load(upGrad + i) + dy * g * sigma, upGrad + i);
            }
        }
        if (i < n) BackwardScalar(gateGrad == null ? null : gateGrad + i, upGrad == null ? null : upGrad + i, outputGrad + i, gate + i, up + i, n - i);
    }
}
