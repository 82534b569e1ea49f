// `rlhf demo`: the whole pipeline (tokenizer → SFT → reward model → PPO → DPO → comparison) on the built-in data,
// with a progress bar per stage, the comparison table and examples, summary.json and report.html.
using System.CommandLine;
using System.Globalization;
using Rlhf.Demo;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Folder for the models, summary.json and report.html.", DefaultValueFactory = _ => "demo-output" };
        var quick = new Option<bool>("--quick") { Description = "A tiny model and few steps (about 16 s on a quiet 2-core machine, the full run about 160 s): checks the pipeline, not the results." };
        var seed = new Option<ulong>("--seed") { Description = "Seed for initialisation, shuffling and sampling.", DefaultValueFactory = _ => 42 };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "Replace an earlier demo in the output folder." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Use these data/demo files instead of the built-in copies." };
        var command = new Command("demo", "Run the whole pipeline (tokenizer → SFT → reward model → PPO → DPO) on built-in data and compare the models, then GRPO on a verifiable task (sums).")
        {
            output, quick, seed, overwrite, dataDir,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var options = new DemoOptions
            {
                OutputDir = parse.GetValue(output)!, Quick = parse.GetValue(quick), Seed = parse.GetValue(seed),
                OverwriteOutputDir = parse.GetValue(overwrite), DataDir = parse.GetValue(dataDir),
            };
            if (DemoPipeline.HoldsDemo(Path.GetFullPath(options.OutputDir)) && !options.OverwriteOutputDir)
                throw new IOException($"{Path.GetFullPath(options.OutputDir)} already holds a demo; pass --overwrite-output-dir to replace it or choose another --output.");
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            try
            {
                var result = AnsiConsole.Profile.Capabilities.Interactive ? RunWithBars(options, cancel.Token) : RunPlain(options, cancel.Token);
                Print(result, Path.GetFullPath(options.OutputDir));
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            return cancel.IsCancellationRequested ? TrainingRunner.InterruptedExitCode : 0;
        }));
        return command;
    }

    /// <summary>"1 step", "40 steps".</summary>
    public static string Steps(int count) => count == 1 ? "1 step" : $"{count} steps";

    private static string Describe(IReadOnlyDictionary<string, double>? metrics)
    {
        if (metrics is null) return "";
        string[] keys = ["loss", "accuracy", "objective/scores", "objective/kl", "rewards/accuracies", "eval_loss", "eval_accuracy"];
        return string.Join("  ", keys.Where(metrics.ContainsKey).Take(3).Select(k => $"{k} {metrics[k].ToString("0.###", CultureInfo.InvariantCulture)}"));
    }

    private static DemoResult RunWithBars(DemoOptions options, CancellationToken cancellation)
    {
        DemoResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var tasks = DemoPipeline.StageTitles.ToDictionary(s => s.Name, s => context.AddTask(Markup.Escape(s.Title), autoStart: false, maxValue: 1));
                var progress = new SyncProgress(p =>
                {
                    var task = tasks[p.Stage];
                    if (p.Event == "start") task.StartTask();
                    if (p.TotalSteps > 0) task.MaxValue = p.TotalSteps;
                    task.Value = Math.Min(p.Step, task.MaxValue);
                    string detail = Describe(p.Metrics);
                    if (p.Event is "log" or "eval" or "done" && detail.Length > 0)
                        task.Description = $"{Markup.Escape(p.Title)} [grey]{Markup.Escape(detail)}[/]";
                    if (p.Event == "done") task.StopTask();
                });
                result = DemoPipeline.Run(options, progress, cancellation);
            });
        return result!;
    }

    private static DemoResult RunPlain(DemoOptions options, CancellationToken cancellation)
    {
        var progress = new SyncProgress(p =>
        {
            if (p.Event == "start") Console.WriteLine($"[{p.Stage}] {p.Title}: {Steps(p.TotalSteps)}");
            else if (p.Event is "log" or "eval") Console.WriteLine($"[{p.Stage}] step {p.Step}/{p.TotalSteps}  {Describe(p.Metrics)}".TrimEnd());
            else if (p.Event == "done") Console.WriteLine($"[{p.Stage}] done  {Describe(p.Metrics)}".TrimEnd());
        });
        return DemoPipeline.Run(options, progress, cancellation);
    }

    private static void Print(DemoResult result, string output)
    {
        string Pct(double v) => double.IsFinite(v) ? (v * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "–";
        string F(double v) => double.IsFinite(v) ? v.ToString("0.00", CultureInfo.InvariantCulture) : "–";
        var table = new Table().Title("Held-out prompts (greedy)")
            .AddColumns("model", "refusal rate (harmful)", "answer rate (benign)", "mean RM score", "KL to SFT", "\"Let me explain.\" rate");
        foreach (var row in result.Comparison)
            table.AddRow(row.Model, Pct(row.RefusalRate), Pct(row.AnswerRate), F(row.MeanScore), F(row.KlToSft), Pct(row.LetMeExplainRate));
        AnsiConsole.Write(table);

        var examples = new Table().Title("Examples").AddColumn("prompt");
        var models = result.Comparison.Select(r => r.Model).ToArray();
        foreach (var m in models) examples.AddColumn(m);
        foreach (var example in result.Examples)
            examples.AddRow([$"[grey][[{Markup.Escape(example.Kind)}]][/] {Markup.Escape(example.Prompt)}", .. models.Select(m => Markup.Escape(example.Answers.GetValueOrDefault(m, "")))]);
        AnsiConsole.Write(examples);

        var s = result.Summary;
        double Num(string key) => s.TryGetValue(key, out var v) && v is double d ? d : double.NaN;
        AnsiConsole.MarkupLine($"reward model held-out accuracy [bold]{Pct(Num("rm_accuracy"))}[/]; PPO held-out reward {F(Num("ppo_reward_before"))} → [bold]{F(Num("ppo_reward_after"))}[/] (KL {F(Num("ppo_kl"))}); GRPO accuracy on held-out sums {Pct(Num("grpo_accuracy_before"))} → [bold]{Pct(Num("grpo_accuracy_after"))}[/]; {Num("seconds").ToString("0.0", CultureInfo.InvariantCulture)} s");
        AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(Path.Combine(output, DemoPipeline.SummaryFileName))}[/] and [bold]{Markup.Escape(Path.Combine(output, DemoPipeline.ReportFileName))}[/]");
    }

    private sealed class SyncProgress(Action<DemoProgress> report) : IProgress<DemoProgress>
    {
        public void Report(DemoProgress value) => report(value);
    }
}
