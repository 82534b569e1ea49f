// Layer normalisation over the last axis (PyTorch semantics, biased variance), saving per-row mean and
// 1/std for the backward pass.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe class LayerNormKernels
{
    [ThreadStatic] private static float[]? partialCache;

    /// <summary>
    /// output[R, C] = (input[R, C] − mean[R]) · rstd[R] · weight[C] + bias[C], with mean[R] = Σ_c x / C and
    /// rstd[R] = 1/√(Σ_c (x − mean)² / C + epsilon); mean and rstd are written for the backward pass.
    /// R = rows (e.g. B·T), C = channels. Parallel over rows.
    /// </summary>
    public static void Forward(float* output, float* mean, float* rstd, float* input, float* weight, float* bias,
        int rows, int channels, float epsilon)
    {
        if (rows <= 0 || channels <= 0) return; // nothing to normalise (mean/rstd left untouched)
        Parallelism.For(rows, MinRows(channels), (start, end) =>
        {
            for (int r = start; r < end; r++) ForwardRow(output, mean, rstd, input, weight, bias, r, channels, epsilon);
        });
    }

    public static void ForwardScalar(float* output, float* mean, float* rstd, float* input, float* weight, float* bias,
        int rows, int channels, float epsilon)
    {
        if (channels <= 0) return;
        for (int r = 0; r < rows; r++)
        {
            float* x = input + (long)r * channels;
            float* o = output + (long)r * channels;
            float sum = 0;
            for (int c = 0; c < channels; c++) sum += x[c];
            float m = sum / channels;
            float squares = 0;
            for (int c = 0; c < channels; c++)
            {
                float d = x[c] - m;
                squares += d * d;
            }
            float s = 1f / MathF.Sqrt(squares / channels + epsilon);
            for (int c = 0; c < channels; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
            mean[r] = m;
            rstd[r] = s;
        }
    }

    /// <summary>
    /// Adds into inputGrad[R, C], weightGrad[C], biasGrad[C] given outputGrad[R, C] and the saved mean/rstd[R].
    /// Derivation, per row with x̂ = (x − mean)·rstd and y = x̂·w + b: dL/db = Σ_rows dy, dL/dw = Σ_rows dy·x̂;
    /// with g = w·dy (gradient w.r.t. x̂), dx̂/dx = rstd·(I − 1/C − x̂x̂ᵀ/C), so
    /// dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)).
    /// The weight/bias gradients are summed per row chunk into partial buffers, then the partials are added
    /// in chunk order, so the result is deterministic for a given thread count.
    /// </summary>
    public static void Backward(float* inputGrad, float* weightGrad, float* biasGrad, float* outputGrad, float* input,
        float* weight, float* mean, float* rstd, int rows, int channels)
    {
        if (rows <= 0 || channels <= 0) return;
        int chunks = Math.Clamp(rows / MinRows(channels), 1, Parallelism.ThreadCount);
        float* partials = KernelSupport.Scratch(ref partialCache, 2L * chunks * channels);
        new Span<float>(partials, 2 * chunks * channels).Clear();
        Parallelism.For(chunks, 1, (c0, c1) =>
        {
            for (int chunk = c0; chunk < c1; chunk++)
            {
                int r0 = (int)((long)rows * chunk / chunks), r1 = (int)((long)rows * (chunk + 1) / chunks);
                float* dw = partials + 2L * chunk * channels;
                float* db = dw + channels;
                for (int r = r0; r < r1; r++)
                    BackwardRow(inputGrad, dw, db, outputGrad, input, weight, mean[r], rstd[r], r, channels);
            }
        });
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            float* dw = partials + 2L * chunk * channels;
            if (weightGrad != null) KernelSupport.AddInPlace(weightGrad, dw, channels); // null: a frozen weight (LoRA's base)
            if (biasGrad != null) KernelSupport.AddInPlace(biasGrad, dw + channels, channels);
        }
    }

    public static void BackwardScalar(float* inputGrad, float* weightGrad, float* biasGrad, float* outputGrad, float* input,
        float* weight, float* mean, float* rstd, int rows, int channels)
    {
        for (int r = 0; r < rows; r++)
        {
            float* x = input + (long)r * channels;
            float* dy = outputGrad + (long)r * channels;
            float* dx = inputGrad + (long)r * channels;
            float m = mean[r], s = rstd[r];
            float gMean = 0, gxMean = 0;
            for (int c = 0; c < channels; c++)
            {
                float xhat = (x[c] - m) * s;
                float g = weight[c] * dy[c];
                gMean += g;
                gxMean += g * xhat;
            }
            gMean /= channels;
            gxMean /= channels;
            for (int c = 0; c < channels; c++)
            {
                float xhat = (x[c] - m) * s;
                float g = weight[c] * dy[c];
                dx[c] += (g - gMean - xhat * gxMean) * s;
                weightGrad[c] += dy[c] * xhat;
                biasGrad[c] += dy[c];
            }
        }
    }

    private static int MinRows(int channels) => Math.Max(1, 8192 / Math.Max(1, channels));

    private static void ForwardRow(float* output, float* mean, float* rstd, float* input, float* weight, float* bias,
        int r, int channels, float epsilon)
    {
        float* x = input + (long)r * channels;
        float* o = output + (long)r * channels;
        int c = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; c <= channels - 16; c += 16) acc += Vector512.Load(x + c);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; c <= channels - 8; c += 8) acc += Vector256.Load(x + c);
            sum = Vector256.Sum(acc);
        }
        for (; c < channels; c++) sum += x[c];
        float m = sum / channels;

        c = 0;
        float squares = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            var vm = Vector512.Create(m);
            for (; c <= channels - 16; c += 16)
            {
                var d = Vector512.Load(x + c) - vm;
                acc += d * d;
            }
            squares = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            var vm = Vector256.Create(m);
            for (; c <= channels - 8; c += 8)
            {
                var d = Vector256.Load(x + c) - vm;
                acc += d * d;
            }
            squares = Vector256.Sum(acc);
        }
        for (; c < channels; c++)
        {
            float d = x[c] - m;
            squares += d * d;
        }
        float s = 1f / MathF.Sqrt(squares / channels + epsilon);

        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(m);
            var vs = Vector512.Create(s);
            for (; c <= channels - 16; c += 16)
                Vector512.Store((Vector512.Load(x + c) - vm) * vs * Vector512.Load(weight + c) + Vector512.Load(bias + c), o + c);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(m);
            var vs = Vector256.Create(s);
            for (; c <= channels - 8; c += 8)
                Vector256.Store((Vector256.Load(x + c) - vm) * vs * Vector256.Load(weight + c) + Vector256.Load(bias + c), o + c);
        }
        for (; c < channels; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[r] = m;
        rstd[r] = s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRow(float* inputGrad, float* dw, float* db, float* outputGrad, float* input, float* weight,
        float m, float s, int r, int channels)
    {
        float* x = input + (long)r * channels;
        float* dy = outputGrad + (long)r * channels;
        float* dx = inputGrad + (long)r * channels;

        int c = 0;
        float gSum = 0, gxSum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(m);
            var vs = Vector512.Create(s);
            var accG = Vector512<float>.Zero;
            var accGx = Vector512<float>.Zero;
            for (; c <= channels - 16; c += 16)
            {
                var xhat = (Vector512.Load(x + c) - vm) * vs;
                var g = Vector512.Load(weight + c) * Vector512.Load(dy + c);
                accG += g;
                accGx += g * xhat;
            }
            gSum = Vector512.Sum(accG);
            gxSum = Vector512.Sum(accGx);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(m);
            var vs = Vector256.Create(s);
            var accG = Vector256<float>.Zero;
            var accGx = Vector256<float>.Zero;
            for (; c <= channels - 8; c += 8)
            {
                var xhat = (Vector256.Load(x + c) - vm) * vs;
                var g = Vector256.Load(weight + c) * Vector256.Load(dy + c);
                accG += g;
                accGx += g * xhat;
            }
            gSum = Vector256.Sum(accG);
            gxSum = Vector256.Sum(accGx);
        }
        for (; c < channels; c++)
        {
            float xhat = (x[c] - m) * s;
            float g = weight[c] * dy[c];
            gSum += g;
            gxSum += g * xhat;
        }
        float gMean = gSum / channels, gxMean = gxSum / channels;

        c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(m);
            var vs = Vector512.Create(s);
            var vg = Vector512.Create(gMean);
            var vgx = Vector512.Create(gxMean);
            for (; c <= channels - 16; c += 16)
            {
                var xhat = (Vector512.Load(x + c) - vm) * vs;
                var d = Vector512.Load(dy + c);
                var g = Vector512.Load(weight + c) * d;
                Vector512.Store(Vector512.Load(dx + c) + (g - vg - xhat * vgx) * vs, dx + c);
                Vector512.Store(Vector512.Load(dw + c) + d * xhat, dw + c);
                Vector512.Store(Vector512.Load(db + c) + d, db + c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(m);
            var vs = Vector256.Create(s);
            var vg = Vector256.Create(gMean);
            var vgx = Vector256.Create(gxMean);
            for (; c <= channels - 8; c += 8)
            {
                var xhat = (Vector256.Load(x + c) - vm) * vs;
                var d = Vector256.Load(dy + c);
                var g = Vector256.Load(weight + c) * d;
                Vector256.Store(Vector256.Load(dx + c) + (g - vg - xhat * vgx) * vs, dx + c);
                Vector256.Store(Vector256.Load(dw + c) + d * xhat, dw + c);
                Vector256.Store(Vector256.Load(db + c) + d, db + c);
            }
        }
        for (; c < channels; c++)
        {
            float xhat = (x[c] - m) * s;
            float g = weight[c] * dy[c];
            dx[c] += (g - gMean - xhat * gxMean) * s;
            dw[c] += dy[c] * xhat;
            db[c] += dy[c];
        }
    }
}
