// Root-mean-square normalisation over the last axis (transformers' LlamaRMSNorm: statistics in fp32, no mean
// subtraction, no bias): y = x / √(mean(x²) + ε) · w, saving 1/rms per row for the backward pass.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class RmsNormKernels
{
    [ThreadStatic] private static float[]? partialCache;

    /// <summary>
    /// output[R, C] = input[R, C] · rstd[R] · weight[C] with rstd[R] = 1/√(Σ_c x² / C + epsilon), written for the
    /// backward pass. R = rows (e.g. B·T), C = channels. Parallel over rows.
    /// </summary>
    public static void Forward(float* output, float* rstd, float* input, float* weight, int rows, int channels, float epsilon)
    {
        if (rows <= 0 || channels <= 0) return;
        Parallelism.For(rows, MinRows(channels), (start, end) =>
        {
            for (int r = start; r < end; r++) ForwardRow(output, rstd, input, weight, r, channels, epsilon);
        });
    }

    public static void ForwardScalar(float* output, float* rstd, float* input, float* weight, int rows, int channels, float epsilon)
    {
        if (channels <= 0) return;
        for (int r = 0; r < rows; r++)
        {
            float* x = input + (long)r * channels;
            float* o = output + (long)r * channels;
            float squares = 0;
            for (int c = 0; c < channels; c++) squares += x[c] * x[c];
            float s = 1f / MathF.Sqrt(squares / channels + epsilon);
            for (int c = 0; c < channels; c++) o[c] = x[c] * s * weight[c];
            rstd[r] = s;
        }
    }

    /// <summary>
    /// Adds into inputGrad[R, C] and weightGrad[C] given outputGrad[R, C] and the saved rstd[R] (either gradient may be
    /// null). Derivation, per row with x̂ = x·s, s = (mean(x²) + ε)^−½ and y = w·x̂: dL/dw = Σ_rows dy·x̂; with g = w·dy,
    /// ∂s/∂x_c = −s³·x_c / C, so dx = s·(g − x̂·mean_c(g·x̂)). The weight gradient is summed per row chunk into partial
    /// buffers, then the partials are added in chunk order (deterministic for a given thread count).
    /// </summary>
    public static void Backward(float* inputGrad, float* weightGrad, float* outputGrad, float* input, float* weight, float* rstd,
        int rows, int channels)
    {
        if (rows <= 0 || channels <= 0) return;
        int chunks = Math.Clamp(rows / MinRows(channels), 1, Parallelism.ThreadCount);
        float* partials = KernelSupport.Scratch(ref partialCache, (long)chunks * channels);
        new Span<float>(partials, chunks * channels).Clear();
        Parallelism.For(chunks, 1, (c0, c1) =>
        {
            for (int chunk = c0; chunk < c1; chunk++)
            {
                int r0 = (int)((long)rows * chunk / chunks), r1 = (int)((long)rows * (chunk + 1) / chunks);
                float* dw = partials + (long)chunk * channels;
                for (int r = r0; r < r1; r++) BackwardRow(inputGrad, dw, outputGrad, input, weight, rstd[r], r, channels);
            }
        });
        if (weightGrad == null) return;
        for (int chunk = 0; chunk < chunks; chunk++) KernelSupport.AddInPlace(weightGrad, partials + (long)chunk * channels, channels);
    }

    public static void BackwardScalar(float* inputGrad, float* weightGrad, float* outputGrad, float* input, float* weight, float* rstd,
        int rows, int channels)
    {
        for (int r = 0; r < rows; r++)
        {
            float* x = input + (long)r * channels;
            float* dy = outputGrad + (long)r * channels;
            float s = rstd[r];
            float gxMean = 0;
            for (int c = 0; c < channels; c++) gxMean += weight[c] * dy[c] * x[c] * s;
            gxMean /= channels;
            for (int c = 0; c < channels; c++)
            {
                float xhat = x[c] * s;
                if (inputGrad != null) inputGrad[(long)r * channels + c] += (weight[c] * dy[c] - xhat * gxMean) * s;
                if (weightGrad != null) weightGrad[c] += dy[c] * xhat;
            }
        }
    }

    private static int MinRows(int channels) => Math.Max(1, 8192 / Math.Max(1, channels));

    private static void ForwardRow(float* output, float* rstd, float* input, float* weight, int r, int channels, float epsilon)
    {
        float* x = input + (long)r * channels;
        float* o = output + (long)r * channels;
        int c = 0;
        float squares = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; c <= channels - 16; c += 16)
            {
                var v = Vector512.Load(x + c);
                acc = Vector512.FusedMultiplyAdd(v, v, acc);
            }
            squares = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; c <= channels - 8; c += 8)
            {
                var v = Vector256.Load(x + c);
                acc = Vector256.FusedMultiplyAdd(v, v, acc);
            }
            squares = Vector256.Sum(acc);
        }
        for (; c < channels; c++) squares += x[c] * x[c];
        float s = 1f / MathF.Sqrt(squares / channels + epsilon);

        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            for (; c <= channels - 16; c += 16) Vector512.Store(Vector512.Load(x + c) * vs * Vector512.Load(weight + c), o + c);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; c <= channels - 8; c += 8) Vector256.Store(Vector256.Load(x + c) * vs * Vector256.Load(weight + c), o + c);
        }
        for (; c < channels; c++) o[c] = x[c] * s * weight[c];
        rstd[r] = s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRow(float* inputGrad, float* dw, float* outputGrad, float* input, float* weight, float s, int r, int channels)
    {
        float* x = input + (long)r * channels;
        float* dy = outputGrad + (long)r * channels;
        float* dx = inputGrad == null ? null : inputGrad + (long)r * channels;

        int c = 0;
        float gxSum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; c <= channels - 16; c += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(weight + c) * Vector512.Load(dy + c), Vector512.Load(x + c), acc);
            gxSum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; c <= channels - 8; c += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(weight + c) * Vector256.Load(dy + c), Vector256.Load(x + c), acc);
            gxSum = Vector256.Sum(acc);
        }
        for (; c < channels; c++) gxSum += weight[c] * dy[c] * x[c];
        float gxMean = gxSum * s / channels;

        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            var vgx = Vector512.Create(gxMean);
            for (; c <= channels - 16; c += 16)
            {
                var xhat = Vector512.Load(x + c) * vs;
                var d = Vector512.Load(dy + c);
                if (dx != null) Vector512.Store(Vector512.Load(dx + c) + (Vector512.Load(weight + c) * d - xhat * vgx) * vs, dx + c);
                Vector512.Store(Vector512.FusedMultiplyAdd(d, xhat, Vector512.Load(dw + c)), dw + c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            var vgx = Vector256.Create(gxMean);
            for (; c <= channels - 8; c += 8)
            {
                var xhat = Vector256.Load(x + c) * vs;
                var d = Vector256.Load(dy + c);
                if (dx != null) Vector256.Store(Vector256.Load(dx + c) + (Vector256.Load(weight + c) * d - xhat * vgx) * vs, dx + c);
                Vector256.Store(Vector256.FusedMultiplyAdd(d, xhat, Vector256.Load(dw + c)), dw + c);
            }
        }
        for (; c < channels; c++)
        {
            float xhat = x[c] * s;
            if (dx != null) dx[c] += (weight[c] * dy[c] - xhat * gxMean) * s;
            dw[c] += dy[c] * xhat;
        }
    }
}
