// A reward computed by the user's own program: one JSON line per completion on its stdin
// ({"prompt", "completion", "row"}), one score per line on its stdout, within a time limit.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Rlhf.Training.Grpo;

/// <summary>The reward command failed or answered wrongly; the message names the command and, where known, the row.</summary>
internal sealed class RewardCommandException(string message) : Exception(message);

internal sealed class CommandReward : ICompletionReward
{
    private readonly string commandLine;
    private readonly TimeSpan timeout;

    public CommandReward(string commandLine, TimeSpan? timeout = null)
    {
        if (string.IsNullOrWhiteSpace(commandLine)) throw new ArgumentException("--reward-command is empty.");
        this.commandLine = commandLine;
        this.timeout = timeout ?? TimeSpan.FromSeconds(60);
        if (this.timeout <= TimeSpan.Zero) throw new ArgumentException($"the reward command's timeout must be positive (got {this.timeout.TotalSeconds} s).");
    }

    public string Name => "command";

    /// <summary>Runs the command once for all samples; "nan" or "null" on a line marks a completion it cannot score.</summary>
    public double[] Score(IReadOnlyList<CompletionSample> samples)
    {
        var start = new ProcessStartInfo(OperatingSystem.IsWindows() ? "cmd.exe" : "/bin/sh")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false), StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(OperatingSystem.IsWindows() ? "/c" : "-c");
        start.ArgumentList.Add(commandLine);
        using var process = Start(start);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var feed = Task.Run(() =>
        {
            try
            {
                foreach (var sample in samples) process.StandardInput.WriteLine(Line(sample));
                process.StandardInput.Close();
            }
            catch (IOException) { } // the command stopped reading; its exit status and output say why
        });
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new RewardCommandException($"reward command '{commandLine}' did not finish within {timeout.TotalSeconds:G} s ({samples.Count} completions).");
        }
        process.WaitForExit();
        feed.Wait();
        string output = stdout.Result, errors = stderr.Result.Trim();
        if (process.ExitCode != 0)
            throw new RewardCommandException($"reward command '{commandLine}' exited with status {process.ExitCode}" +
                (errors.Length > 0 ? $": {Shorten(errors.Split('\n')[^1])}" : "."));
        var lines = output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (lines.Length != samples.Count)
            throw new RewardCommandException($"reward command '{commandLine}' printed {lines.Length} scores for {samples.Count} completions (one number per line expected).");
        var scores = new double[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i] is "nan" or "NaN" or "null" or "None") { scores[i] = double.NaN; continue; }
            if (!double.TryParse(lines[i], NumberStyles.Float, CultureInfo.InvariantCulture, out scores[i]) || double.IsInfinity(scores[i]))
                throw new RewardCommandException($"reward command '{commandLine}' printed '{Shorten(lines[i])}' on line {i + 1}, for {Describe(samples[i])}: expected a number.");
        }
        return scores;
    }

    private Process Start(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start) ?? throw new RewardCommandException($"reward command '{commandLine}' could not be started.");
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            throw new RewardCommandException($"reward command '{commandLine}' could not be started: {error.Message}");
        }
    }

    private static string Line(CompletionSample sample)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("prompt", sample.Prompt);
            json.WriteString("completion", sample.Completion);
            json.WritePropertyName("row");
            if (sample.Row is null) json.WriteNullValue();
            else sample.Row.Value.WriteTo(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string Describe(CompletionSample sample) =>
        sample.Row is { } row ? $"row {row.Location}" : $"prompt '{Shorten(sample.Prompt)}'";

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";
}
