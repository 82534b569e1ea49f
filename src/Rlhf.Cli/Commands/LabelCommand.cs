// `rlhf label`: people rank K sampled responses per prompt (web page or terminal); `rlhf label stats` summarises the file.
using System.CommandLine;
using System.Text.Json;
using Rlhf.Cli.Labeling;
using Rlhf.Feedback;
using Rlhf.Text;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class LabelCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder to sample responses from." };
        var prompts = new Option<string>("--prompts") { Description = "Prompts: JSONL ({\"prompt\"} or {\"instruction\"}) or plain text, one per line." };
        var k = new Option<int>("--k") { Description = "Responses per prompt to rank.", DefaultValueFactory = _ => 4 };
        var output = new Option<string>("--output") { Description = "Feedback JSONL to append judgements to (resumes where it stopped)." };
        var port = new Option<int>("--port") { Description = "Port of the labeling page (0: any free port).", DefaultValueFactory = _ => 8765 };
        var host = new Option<string>("--host") { Description = "Address to listen on; only loopback unless given explicitly.", DefaultValueFactory = _ => "127.0.0.1" };
        var guidelines = new Option<string?>("--guidelines") { Description = "Markdown file shown beside each task (default: helpful / truthful / harmless)." };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0: greedy).", DefaultValueFactory = _ => 1f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass.", DefaultValueFactory = _ => 1f };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Longest response, in tokens.", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed (mixed with each prompt's id).", DefaultValueFactory = _ => 0 };
        var promptOptions = new PromptOptions("--raw-prompts");
        var truncate = PromptOptions.TruncateLeftOption();
        var annotator = new Option<string>("--annotator") { Description = "Your name, stored with each judgement.", DefaultValueFactory = _ => DefaultAnnotator() };
        var tui = new Option<bool>("--tui") { Description = "Label in the terminal instead of a web page." };

        var command = new Command("label", "Collect human feedback: rank K sampled responses per prompt in a local web page (or --tui). " + PromptOptions.Story)
        {
            model, prompts, k, output, port, host, guidelines, temperature, topP, maxNewTokens, seed, truncate, annotator, tui,
        };
        promptOptions.AddTo(command);
        command.Subcommands.Add(CreateStats());
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string modelDir = InputFiles.RequireFolder(Require(parse.GetValue(model), "--model"), "--model");
            string promptsPath = InputFiles.RequireFile(Require(parse.GetValue(prompts), "--prompts"), "--prompts");
            string outputPath = InputFiles.RequireOutputFile(Require(parse.GetValue(output), "--output"), "--output");
            bool hostGiven = parse.GetResult(host) is { Implicit: false };
            string guidelinesText = parse.GetValue(guidelines) is { } guidelinesPath
                ? (File.Exists(guidelinesPath) ? File.ReadAllText(guidelinesPath) : throw new FileNotFoundException($"The guidelines file '{guidelinesPath}' does not exist."))
                : Guidelines.Default;
            var sampling = new SamplingSettings
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), MaxNewTokens = parse.GetValue(maxNewTokens), Seed = parse.GetValue(seed),
            };
            sampling.Validate();
            var settings = CommandSettings.Load(parse, null);
            promptOptions.Resolve(settings, null); // the template is checked before the model loads
            using var folder = ModelFolder.Load(modelDir);
            var style = promptOptions.Resolve(settings, modelDir);
            var promptList = LabelPrompt.Load(promptsPath, style.Render);
            PromptOptions.CheckLengths(promptList.Select(p => folder.Tokenizer.Encode(p.Rendered)).ToArray(), folder.Model.Config.ContextLength,
                sampling.MaxNewTokens, parse.GetValue(truncate), modelDir);
            string modelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir)));
            using var sampler = new ModelResponseSampler(folder, sampling); // disposed first: waits for a background generation
            var session = new LabelingSession(promptList, parse.GetValue(k), sampler, new FeedbackStore(outputPath),
                parse.GetValue(annotator)!, modelName, sampling);
            AnsiConsole.MarkupLine($"{promptList.Count} prompts, {session.Judged} already judged by [bold]{Markup.Escape(session.Annotator)}[/] in {Markup.Escape(outputPath)}.");

            if (parse.GetValue(tui))
            {
                var labeler = new TerminalLabeler(session, AnsiConsole.Console, Console.In) { GuidelinesMarkdown = guidelinesText };
                labeler.Run();
                return 0;
            }

            string address = parse.GetValue(host)!;
            if (!hostGiven) address = "127.0.0.1";
            using var stop = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
            Console.CancelKeyPress += onCancel;
            session.BackgroundError += error => AnsiConsole.MarkupLine($"[red]sampling failed:[/] {Markup.Escape(error.Message)}");
            try
            {
                var server = LabelServer.StartAsync(session, new LabelServerOptions { Host = address, Port = parse.GetValue(port), GuidelinesMarkdown = guidelinesText }, stop.Token)
                    .GetAwaiter().GetResult();
                AnsiConsole.MarkupLine($"Labeling page: {Markup.Escape(server.Url.ToString())}  (Ctrl-C to stop; every judgement is saved at once)");
                bool loopback = address == "localhost" || (System.Net.IPAddress.TryParse(address, out var ip) && System.Net.IPAddress.IsLoopback(ip));
                if (!loopback)
                    AnsiConsole.MarkupLine("[yellow]warning:[/] listening beyond this machine; anyone who can reach the port can submit judgements.");
                server.RunUntilCancelledAsync(stop.Token).GetAwaiter().GetResult();
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            AnsiConsole.MarkupLine($"Stopped; {session.Judged} of {session.Total} prompts judged.");
            return 0;
        }));
        return command;
    }

    private static Command CreateStats()
    {
        var file = new Argument<string>("FILE") { Description = "Feedback JSONL written by `rlhf label`." };
        var json = new Option<bool>("--json") { Description = "Print the numbers as JSON." };
        var command = new Command("stats", "Judgements per annotator, inter-annotator agreement on prompts judged twice, flag counts.") { file, json };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"The feedback file '{path}' does not exist.");
            var stats = FeedbackStats.Compute(FeedbackStore.ReadFile(path));
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            AnsiConsole.MarkupLine($"[bold]{stats.Judgements}[/] judgements of [bold]{stats.Prompts}[/] prompts" +
                (stats.MalformedLines > 0 ? $" [yellow]({stats.MalformedLines} unreadable lines skipped)[/]" : ""));
            var annotators = new Table().AddColumn("annotator").AddColumn(new TableColumn("judgements").RightAligned());
            foreach (var (name, count) in stats.PerAnnotator) annotators.AddRow(Markup.Escape(name), count.ToString());
            AnsiConsole.Write(annotators);
            AnsiConsole.MarkupLine($"Prompts judged by ≥ 2 annotators: [bold]{stats.PromptsJudgedTwice}[/] ({stats.ComparedJudgementPairs} comparable judgement pairs)");
            AnsiConsole.MarkupLine(stats.PairwiseAgreement is { } pairwise
                ? $"Agreement: pairwise order [bold]{pairwise:P1}[/], top-1 [bold]{stats.Top1Agreement:P1}[/]"
                : "Agreement: [grey]n/a (no prompt judged by two annotators on the same responses)[/]");
            AnsiConsole.MarkupLine($"Flags: {string.Join(", ", stats.Flags.Select(f => $"{f.Key} {f.Value}"))}; judgements with ties: {stats.Ties}");
            return 0;
        }));
        return command;
    }

    private static string Require(string? value, string name) =>
        string.IsNullOrEmpty(value) ? throw new ArgumentException($"{name} is required (see `rlhf label --help`).") : value;

    private static string DefaultAnnotator()
    {
        string name = Environment.GetEnvironmentVariable("USER") ?? Environment.UserName;
        return string.IsNullOrWhiteSpace(name) ? "annotator" : name;
    }
}
