// `rlhf data inspect` (what a data file holds and how many rows survive each pipeline step) and `rlhf data convert`
// (write the pipeline's output as JSONL: explicit pairs, prompt/response, or ranked lists).
using System.CommandLine;
using Rlhf.Data;
using Rlhf.Feedback;
using Rlhf.Text;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Inspect and convert preference and instruction data.");
        command.Subcommands.Add(CreateInspect());
        command.Subcommands.Add(CreateConvert());
        return command;
    }

    public static readonly string[] TaskNames = ["sft", "reward", "dpo", "ppo"];

    private static Command CreateInspect()
    {
        var data = new DataOptions(maxPromptLength: null);
        var model = new Option<string?>("--model") { Description = "Model or tokenizer folder for token lengths (without it the length filter is skipped); a model's context caps the lengths as the trainers do." };
        var task = new Option<string?>("--task") { Description = "The trainer whose data steps to run: sft, reward, dpo, ppo (default reward; dpo with --let-me-explain)." };
        task.AcceptOnlyFromAmong(TaskNames);
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "ppo: response length the query must leave room for in the model's context.", DefaultValueFactory = _ => 20 };
        var config = CommandSettings.CreateConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the counts as JSON." };
        var command = new Command("inspect", "Show a data file's format and fields, and the rows a trainer keeps after each of its data steps.") { model, task, maxNewTokens, config, json };
        data.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, config);
            string dataset = data.CheckEarly(settings);
            var summary = DataInspector.Inspect(dataset);
            var dataTask = ParseTask(settings.Get(task) ?? (settings.Get(data.LetMeExplain) ? "dpo" : "reward"));
            var (format, report, _) = Run(settings, data, dataset, settings.Get(model), summary.Format, console, dataTask: dataTask,
                maxNewTokens: settings.Get(maxNewTokens));
            var chat = settings.Get(model) is { } folder && ChatTemplate.TryLoad(folder) is { } template ? ChatExample.FirstInFile(dataset, template) : null;
            if (settings.Get(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    file = dataset, format = format.ToString(), task = dataTask.ToString().ToLowerInvariant(), rows = summary.Rows, bad_rows = report.BadRows,
                    steps = report.Steps.Select(s => new { name = s.Name, count = s.Count }),
                    dropped = report.Drops.Select(d => new { reason = d.Reason, count = d.Count, first = d.FirstLocation, bad_row = d.IsBadRow }),
                    chat_example = chat is null ? null : new { location = chat.Location, kind = chat.Kind, pieces = chat.Pieces.Select(p => new { label = p.Label, text = p.Text, trained = p.Trained }) },
                }));
                return 0;
            }
            TrainingRunner.Line(console, summary.ToString().TrimEnd());
            TrainingRunner.Line(console, $"pipeline ({FormatName(format)}, {dataTask.ToString().ToLowerInvariant()}):");
            TrainingRunner.Line(console, report.ToString().TrimEnd());
            if (chat is not null)
            {
                TrainingRunner.Line(console, $"rendered with the chat template ({chat.Kind}, {chat.Location}):");
                foreach (var (label, text, _) in chat.Pieces) TrainingRunner.Line(console, $"  [{label}] {System.Text.Json.JsonSerializer.Serialize(text, ReadableJson)}");
            }
            return 0;
        }));
        return command;
    }

    private static readonly System.Text.Json.JsonSerializerOptions ReadableJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static Command CreateConvert()
    {
        var data = new DataOptions();
        var model = new Option<string?>("--model") { Description = "Model or tokenizer folder for the length filter (without it the filter is skipped)." };
        var config = CommandSettings.CreateConfigOption();
        var output = new Option<string?>("--output") { Description = "JSONL file to write (.jsonl.gz compresses)." };
        var to = new Option<string>("--to") { Description = "pairs: {prompt, chosen, rejected}; sft: {prompt, response}; ranked: {prompt, responses}.", DefaultValueFactory = _ => "pairs" };
        to.AcceptOnlyFromAmong("pairs", "sft", "ranked");
        var command = new Command("convert", "Run the data pipeline and write its examples as JSONL (rendered with the template unless --raw).") { model, config, output, to };
        data.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, config);
            string dataset = data.CheckEarly(settings), path = settings.Require(output), target = settings.Get(to);
            if (target == "pairs" && FeedbackStore.IsFeedbackFile(dataset))
            {
                // `rlhf label` output: ties and identical responses give no pair.
                int pairs = FeedbackPairs.Convert(dataset, path);
                TrainingRunner.Line(console, $"Wrote {pairs:N0} pairs from the judgements in {dataset} to {path} (tied responses give none).");
                return 0;
            }
            var detected = DataInspector.Inspect(dataset, maxRows: 1).Format;
            var (format, report, result) = Run(settings, data, dataset, settings.Get(model), detected, console, target);
            int written = target switch
            {
                "pairs" => JsonlWriter.WritePreferences(path, result.Pairs ?? throw new ArgumentException($"{FormatName(format)} data has no preference pairs; use --to sft.")),
                "sft" => JsonlWriter.WriteInstructions(path, result.Instructions ?? result.Pairs!.Select(p => new InstructionExample(p.Prompt, p.Chosen))),
                _ => JsonlWriter.WriteRanked(path, result.Ranked ?? result.Pairs?.Select(p => new RankedExample(p.Prompt, [p.Chosen, p.Rejected]))
                    ?? throw new ArgumentException($"{FormatName(format)} data has no ranked responses; use --to sft.")),
            };
            TrainingRunner.Line(console, report.ToString().TrimEnd());
            TrainingRunner.Line(console, $"Wrote {written:N0} {target} rows to {path}.");
            return 0;
        }));
        return command;
    }

    private sealed record Converted(IReadOnlyList<PreferencePair>? Pairs, IReadOnlyList<InstructionExample>? Instructions, IReadOnlyList<RankedExample>? Ranked);

    public static DataTask ParseTask(string name) => name switch
    {
        "sft" => DataTask.Sft,
        "reward" => DataTask.Reward,
        "dpo" => DataTask.Dpo,
        "ppo" => DataTask.Ppo,
        _ => throw new ArgumentException($"Unknown --task '{name}'; use one of {string.Join(", ", TaskNames)}."),
    };

    /// <summary>
    /// Runs the steps the trainer of <paramref name="dataTask"/> runs, with its settings (context cap, EOS id), so the
    /// counts are those of the rows it trains on; instruction data always goes through the SFT steps.
    /// </summary>
    private static (DataFormat Format, DataReport Report, Converted Result) Run(CommandSettings settings, DataOptions data, string dataset, string? model,
        DataFormat detected, IAnsiConsole console, string target = "pairs", DataTask? dataTask = null, int maxNewTokens = 20)
    {
        var tokenizer = model is null ? null : BpeTokenizer.FromFolder(model);
        string configPath = model is null ? "" : Path.Combine(model, Rlhf.Models.ICausalLm.ConfigFileName);
        int? context = File.Exists(configPath) ? Rlhf.Models.CausalLmRegistry.LoadConfig(configPath).ContextLength : null;
        var task = dataTask ?? (target == "sft" ? DataTask.Sft : DataTask.Reward);
        var options = data.Resolve(settings, tokenizer, context, task) with { EosTokenId = tokenizer?.EosTokenId };
        if (tokenizer is null) TrainingRunner.Line(console, "note: no --model given, so the token-length filter is skipped.");
        var format = options.Format == DataFormat.Auto ? detected : options.Format;
        if (format == DataFormat.Auto) throw new ArgumentException($"Cannot tell the format of {dataset}; pass --format.");
        options = options with { Format = format };
        if (task == DataTask.Ppo && format != DataFormat.Instruction)
        {
            if (tokenizer is not null)
                options = PpoCommand.QueryOptions(tokenizer, options.Template, context ?? int.MaxValue, maxNewTokens) with
                {
                    Format = format, SkipBadRows = options.SkipBadRows, SingleTurnOnly = options.SingleTurnOnly,
                };
            var queries = PpoQueries.Run(dataset, options);
            return (format, queries.Report, new Converted(null, null, null));
        }
        if (format == DataFormat.Instruction || task == DataTask.Sft || (format == DataFormat.HhRlhf && target == "sft"))
        {
            var sft = SftPipeline.Run(dataset, options);
            return (format, sft.Report, new Converted(null, sft.Examples, null));
        }
        if (format == DataFormat.Ranked && target == "ranked")
        {
            var report = new DataReport { Source = dataset };
            var ranked = new List<RankedExample>();
            foreach (var row in DataRowReader.Read(dataset, options.SkipBadRows, report, options.MaxLineLength))
            {
                var example = DataFormats.ParseRanked(row);
                ranked.Add(example with
                {
                    Prompt = options.Template.RenderPrompt(example.Prompt),
                    Responses = example.Responses.Select(r => options.Template.RenderResponse(r, options.Eos)).ToArray(),
                });
            }
            report.AddStep("read", ranked.Count);
            return (format, report, new Converted(null, null, ranked));
        }
        var pairs = PreferencePipeline.Run(dataset, options);
        return (format, pairs.Report, new Converted(pairs.Examples, null, null));
    }

    private static string FormatName(DataFormat format) => format switch
    {
        DataFormat.HhRlhf => "hh-rlhf",
        DataFormat.PreferenceExplicit => "explicit",
        DataFormat.PreferenceConversational => "conversational",
        DataFormat.Instruction => "instruction",
        DataFormat.Ranked => "ranked",
        _ => "auto",
    };
}
