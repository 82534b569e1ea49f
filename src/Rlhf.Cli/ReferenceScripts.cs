// Finds and runs the PyTorch reference scripts under bench/ with the fair environment for this machine.
using System.Diagnostics;
using System.Text.Json;

namespace Rlhf.Cli;

internal static class ReferenceScripts
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Looks for <paramref name="relativePath"/> above the working directory and the executable.</summary>
    public static string? Find(string relativePath)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                string candidate = Path.Combine(directory.FullName, relativePath);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    /// <summary>
    /// Runs a reference script and parses the last JSON line it prints. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed and
    /// OMP_WAIT_POLICY=PASSIVE set: this machine's default (Haswell) halves PyTorch's speed.
    /// Returns null with a reason when Python or torch is missing.
    /// </summary>
    public static JsonElement? Run(string script, IEnumerable<string> arguments, out string? failure)
    {
        failure = null;
        if (!File.Exists(Python)) { failure = $"{Python} not found (apt-get install python3-torch)"; return null; }
        return RunProcess(Python, [script, .. arguments], out failure,
            errors => errors.Contains("No module named 'torch'", StringComparison.Ordinal) ? "PyTorch is not installed (apt-get install python3-torch)" : null);
    }

    /// <summary>
    /// Runs a .NET reference program (<paramref name="assembly"/>, e.g. the llama.cpp one under bench/llamacpp) with the
    /// same environment as the scripts and parses the last JSON line it prints.
    /// </summary>
    public static JsonElement? RunDotnet(string assembly, IEnumerable<string> arguments, out string? failure)
    {
        string host = Environment.ProcessPath is string path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        return RunProcess(host, [assembly, .. arguments], out failure, _ => null);
    }

    private static JsonElement? RunProcess(string fileName, IEnumerable<string> arguments, out string? failure, Func<string, string?> explain)
    {
        failure = null;
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment.Remove("OPENBLAS_CORETYPE");
        start.Environment.Remove("OPENBLAS_L2_SIZE");
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = Process.Start(start)!;
        var errorTask = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string errors = errorTask.Result;
        if (process.ExitCode != 0)
        {
            failure = explain(errors) ?? $"the reference failed: {errors.Trim().Split('\n').LastOrDefault()}";
            return null;
        }
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (line is null) { failure = "the reference printed no JSON result"; return null; }
        return JsonDocument.Parse(line).RootElement.Clone();
    }
}
