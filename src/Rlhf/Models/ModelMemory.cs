// Checks, before anything is allocated, that a model's parameters fit in the memory this process may use.
using System.Globalization;

namespace Rlhf.Models;

public static class ModelMemory
{
    /// <summary>Bytes each parameter takes once loaded: its fp32 value and its fp32 gradient (<c>ParameterSet</c>).</summary>
    public const int BytesPerParameter = 2 * sizeof(float);

    /// <summary>The memory this process may use: physical memory or the container's limit, whichever is smaller.</summary>
    public static long AvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Null when <paramref name="parameterCount"/> parameters fit in <see cref="AvailableBytes"/>, else a problem
    /// that states how much memory the model would need. The count is a double so absurd shapes cannot overflow.
    /// </summary>
    public static string? Problem(double parameterCount)
    {
        double needed = parameterCount * BytesPerParameter;
        long available = AvailableBytes;
        if (needed <= available) return null;
        return $"the model has {Count(parameterCount)} parameters and needs {GiB(needed)} of memory to load " +
               $"(fp32 weights and gradients), but only {GiB(available)} is available; check the sizes in config.json";
    }

    /// <summary>
    /// Throws <see cref="ModelFormatException"/> when the safetensors file holds fewer values than the configuration's
    /// <paramref name="parameterCount"/>: a config.json that claims a larger model than its checkpoint must fail before
    /// that model is allocated (a folder of a few MB must not take GBs), not after.
    /// </summary>
    public static void RequireWeightsFor(string weightsPath, double parameterCount)
    {
        using var file = SafeTensors.Open(weightsPath);
        double held = file.Tensors.Values.Sum(t => (double)t.ElementCount);
        if (held < parameterCount)
            throw new ModelFormatException(weightsPath,
                $"holds {Count(held)} values, but config.json describes a model of {Count(parameterCount)} parameters; config.json does not match this checkpoint");
    }

    internal static string GiB(double bytes) => bytes >= 1e15
        ? (bytes / (1L << 40)).ToString("E2", CultureInfo.InvariantCulture) + " TiB"
        : (bytes / (1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB";

    private static string Count(double count) =>
        count >= 1e15 ? count.ToString("E2", CultureInfo.InvariantCulture) : ((long)count).ToString("N0", CultureInfo.InvariantCulture);
}
