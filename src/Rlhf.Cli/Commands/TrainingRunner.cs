// Runs a TrainingLoop for a command: a live Spectre progress bar on a terminal (plain lines otherwise), Ctrl-C as a
// clean interruption (checkpoint, exit 130, how to resume), and the final metrics.
using System.Globalization;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class TrainingRunner
{
    /// <summary>The exit code after Ctrl-C (128 + SIGINT, as shells report it), so scripts can tell it from a finished run.</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>A console writing to the current Console.Out under the output rules of <see cref="CliConsole"/>.</summary>
    public static IAnsiConsole CreateConsole() => CliConsole.ForOut();

    /// <summary>A plain line, never wrapped (outside a live display).</summary>
    public static void Line(IAnsiConsole console, string text) => console.Profile.Out.Writer.WriteLine(text);

    /// <summary>Whether <paramref name="console"/> can show a live progress bar.</summary>
    public static bool IsLive(IAnsiConsole console) => console.Profile.Capabilities.Interactive && console.Profile.Out.IsTerminal;

    /// <summary>
    /// Trains, saves the model and <see cref="CommandSettings.ResolvedFileName"/>; returns the exit code. Ctrl-C (or
    /// <paramref name="stop"/>) ends the run after the current step with a checkpoint.
    /// </summary>
    public static int Run<T>(IAnsiConsole console, string command, CommandSettings settings, ITrainingTask<T> task, TrainingArguments arguments,
        IReadOnlyList<T> train, IReadOnlyList<T>? eval, CancellationToken stop = default, LoopHooks? hooks = null)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(stop);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        TrainingResult result;
        try
        {
            bool live = IsLive(console);
            console.MarkupLine($"Training on {train.Count:N0} examples{(eval is { Count: > 0 } ? $", evaluating on {eval.Count:N0}" : "")}; output: [green]{Markup.Escape(arguments.OutputDir)}[/]");
            result = live ? RunLive(console, task, arguments, train, eval, cancellation.Token, hooks ?? new())
                : RunPlain(console, task, arguments, train, eval, cancellation.Token, hooks ?? new());
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (DataParallelLaunch.Job.Rank == 0) settings.Save(arguments.OutputDir, command);
        if (result.Interrupted)
        {
            console.MarkupLine($"[yellow]interrupted at step {result.GlobalStep}[/]; resume with --resume-from-checkpoint latest");
            return InterruptedExitCode;
        }
        PrintFinal(console, result);
        console.MarkupLine($"Saved the model to [green]{Markup.Escape(arguments.OutputDir)}[/] (metrics.jsonl, {CommandSettings.ResolvedFileName}).");
        return 0;
    }

    private static TrainingResult RunPlain<T>(IAnsiConsole console, ITrainingTask<T> task, TrainingArguments arguments, IReadOnlyList<T> train,
        IReadOnlyList<T>? eval, CancellationToken token, LoopHooks hooks)
    {
        var loop = new TrainingLoop<T>(task, arguments, train, eval)
        {
            Communicator = DataParallelLaunch.Job, OptionsFingerprint = Fingerprint(),
            ExtraState = hooks.ExtraState, RestoreExtraState = hooks.RestoreExtraState, LearningRateMetric = hooks.LearningRateMetric,
            Progress = new Reporter(p =>
            {
                if (p.Event == "log") Line(console, Describe(p));
                else if (p.Event == "eval") Line(console, $"eval step {p.Step}: {FormatMetrics(p.Metrics)}");
                else if (p.Event == "save") Line(console, $"checkpoint at step {p.Step}");
            }),
        };
        return loop.Run(token);
    }

    private static TrainingResult RunLive<T>(IAnsiConsole console, ITrainingTask<T> task, TrainingArguments arguments, IReadOnlyList<T> train,
        IReadOnlyList<T>? eval, CancellationToken token, LoopHooks hooks)
    {
        TrainingResult? result = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var bar = context.AddTask("starting", maxValue: 1);
                var loop = new TrainingLoop<T>(task, arguments, train, eval)
                {
                    Communicator = DataParallelLaunch.Job, OptionsFingerprint = Fingerprint(),
                    ExtraState = hooks.ExtraState, RestoreExtraState = hooks.RestoreExtraState, LearningRateMetric = hooks.LearningRateMetric,
                    Progress = new Reporter(p =>
                    {
                        bar.MaxValue = p.TotalSteps;
                        bar.Value = p.Step;
                        if (p.Event is "log" or "step") bar.Description = Markup.Escape(Describe(p, eta: false));
                        if (p.Event == "log") console.MarkupLine($"[grey]{Markup.Escape(Describe(p))}[/]");
                        if (p.Event == "eval") console.MarkupLine($"[blue]eval[/] step {p.Step}: {Markup.Escape(FormatMetrics(p.Metrics))}");
                    }),
                };
                result = loop.Run(token);
            });
        return result!;
    }

    /// <summary>The command line (without the program's path): the ranks of a job must have been given the same one.</summary>
    private static string Fingerprint() => string.Join('\0', Environment.GetCommandLineArgs().Skip(1));

    private static string Describe(TrainingProgress p, bool eta = true)
    {
        string loss = p.Metrics.TryGetValue("loss", out var l) ? $"  loss {l:F4}"
            : p.Metrics.TryGetValue("objective/scores", out var score) ? $"  score {score:F3}  kl {p.Metrics.GetValueOrDefault("objective/kl"):F3}" : "";
        string lr = p.Metrics.TryGetValue("learning_rate", out var r) || p.Metrics.TryGetValue("lr", out r) ? $"  lr {r.ToString("G3", CultureInfo.InvariantCulture)}" : "";
        string remaining = eta && p.Remaining is { } left ? $"  eta {left:hh\\:mm\\:ss}" : "";
        return string.Create(CultureInfo.InvariantCulture, $"step {p.Step}/{p.TotalSteps}{loss}{lr}  {p.TokensPerSecond:F0} tok/s{remaining}");
    }

    public static string FormatMetrics(IReadOnlyDictionary<string, double> metrics) =>
        string.Join("  ", metrics.Where(kv => kv.Key is not ("step" or "epoch"))
            .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G5}")));

    private static void PrintFinal(IAnsiConsole console, TrainingResult result)
    {
        var train = result.LogHistory.LastOrDefault(e => !e.Keys.Any(k => k.StartsWith("eval_", StringComparison.Ordinal)));
        var eval = result.LogHistory.LastOrDefault(e => e.Keys.Any(k => k.StartsWith("eval_", StringComparison.Ordinal)));
        console.MarkupLine($"Finished {DemoCommand.Steps(result.GlobalStep)}{(result.SkippedSteps > 0 ? $" ({result.SkippedSteps} skipped: non-finite gradients)" : "")}.");
        if (train is not null) Line(console, "train: " + FormatMetrics(train));
        if (eval is not null) Line(console, "eval:  " + FormatMetrics(eval));
    }

    /// <summary>Reports synchronously on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Reporter(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
