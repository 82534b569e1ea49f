// Peak resident memory of this process, from /proc/self/status (VmHWM).
namespace Rlhf.Cli;

internal static class ProcessMemory
{
    /// <summary>Peak resident set size in MiB, or null where /proc is not available.</summary>
    public static double? PeakResidentMiB()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries); // "VmHWM:\t    1952 kB": a tab, then padding only below 8 digits
            return double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        return null;
    }
}
