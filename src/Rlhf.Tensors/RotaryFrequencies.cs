// Rotary-embedding frequencies and cos/sin tables for RotaryKernels, computed in fp32 step by step as transformers
// does (modeling_rope_utils: _compute_default_rope_parameters and _compute_llama3_parameters; the rotary module's
// forward takes cos/sin of position·inv_freq in fp32 even for wider models).
namespace Rlhf.Tensors;

/// <summary>Llama 3.x <c>rope_scaling</c> (rope_type "llama3"): the frequency-dependent stretch of the rotary angles.</summary>
internal sealed record Llama3RopeScaling(double Factor, double LowFrequencyFactor, double HighFrequencyFactor, int OriginalMaxPositionEmbeddings);

internal static class RotaryFrequencies
{
    /// <summary>
    /// inv_freq[i] = 1 / theta^(2i / dim) for i &lt; dim/2 (fp32 like transformers), then, with llama3 scaling
    /// (wavelen = 2π / inv_freq, low/high wavelengths = original_max_position_embeddings / low/high_freq_factor):
    /// wavelengths above the low one are divided by factor, those below the high one are kept, and those between are
    /// blended with s = (original / wavelen − low_freq_factor) / (high_freq_factor − low_freq_factor):
    /// (1 − s)·inv/factor + s·inv.
    /// </summary>
    public static float[] Inverse(int rotaryDim, double theta, Llama3RopeScaling? scaling = null)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new ArgumentException($"The rotary dimension ({rotaryDim}) must be positive and even.", nameof(rotaryDim));
        if (!(theta > 0)) throw new ArgumentException($"rope_theta ({theta}) must be positive.", nameof(theta));
        var inverse = new float[rotaryDim / 2];
        float thetaF = (float)theta;
        for (int i = 0; i < inverse.Length; i++)
        {
            float exponent = (float)(2 * i) / rotaryDim;
            inverse[i] = 1f / (float)Math.Pow(thetaF, exponent);
        }
        if (scaling is not null) ApplyLlama3(inverse, scaling);
        return inverse;
    }

    private static void ApplyLlama3(float[] inverse, Llama3RopeScaling scaling)
    {
        if (!(scaling.Factor > 0) || !(scaling.HighFrequencyFactor > scaling.LowFrequencyFactor) || !(scaling.LowFrequencyFactor > 0) || scaling.OriginalMaxPositionEmbeddings <= 0)
            throw new ArgumentException("rope_scaling (llama3) needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0.", nameof(scaling));
        float factor = (float)scaling.Factor, low = (float)scaling.LowFrequencyFactor, high = (float)scaling.HighFrequencyFactor;
        float original = scaling.OriginalMaxPositionEmbeddings;
        float lowWavelength = original / low, highWavelength = original / high;
        for (int i = 0; i < inverse.Length; i++)
        {
            float inv = inverse[i];
            float wavelength = (float)(2 * Math.PI) / inv;
            float scaled = wavelength > lowWavelength ? inv / factor : inv;
            if (!(wavelength < highWavelength) && !(wavelength > lowWavelength))
            {
                float smooth = (original / wavelength - low) / (high - low);
                scaled = (1f - smooth) * scaled / factor + smooth * scaled;
            }
            inverse[i] = scaled;
        }
    }

    /// <summary>
    /// cos and sin tables [positions, inverse.Length] of angle = position · inv_freq (fp32 product, like transformers),
    /// times <paramref name="attentionFactor"/> (1 for the default and llama3 rope types), for <see cref="Kernels.RotaryKernels"/>.
    /// </summary>
    public static (float[] Cos, float[] Sin) Tables(float[] inverse, int positions, float attentionFactor = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(positions);
        int half = inverse.Length;
        var cos = new float[(long)positions * half];
        var sin = new float[(long)positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++)
            {
                float angle = (float)p * inverse[i];
                cos[(long)p * half + i] = (float)Math.Cos(angle) * attentionFactor;
                sin[(long)p * half + i] = (float)Math.Sin(angle) * attentionFactor;
            }
        return (cos, sin);
    }
}
