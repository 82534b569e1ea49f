// Checks, before anything is allocated, that a model's parameters fit in the memory this process may use.
using System.Globalization;

namespace Rlhf.Models;

internal static class ModelMemory
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
    /// Before a folder's model is allocated: throws <see cref="ModelFormatException"/> when config.json describes a
    /// model too large for memory, or larger than the checkpoint beside it (a folder of a few MB must not take GBs).
    /// </summary>
    public static void RequireFits(string directory, CausalLmConfig config)
    {
        if (Problem(config.ParameterCount) is { } problem) throw new ModelFormatException(Path.Combine(directory, ICausalLm.ConfigFileName), problem);
        using var weights = CheckpointReader.Open(directory);
        double held = weights.Tensors.Values.Sum(t => (double)t.ElementCount);
        if (held < config.ParameterCount)
            throw new ModelFormatException(weights.Path,
                $"holds {Count(held)} values, but config.json describes a model of {Count(config.ParameterCount)} parameters; config.json does not match this checkpoint");
    }

    internal static string GiB(double bytes) => bytes >= 1e15
        ? (bytes / (1L << 40)).ToString("E2", CultureInfo.InvariantCulture) + " TiB"
        : (bytes / (1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB";

    private static string Count(double count) =>
        count >= 1e15 ? count.ToString("E2", CultureInfo.InvariantCulture) : ((long)count).ToString("N0", CultureInfo.InvariantCulture);
}
