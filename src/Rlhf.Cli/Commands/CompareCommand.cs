// `rlhf compare`: the textbook's SFT-vs-DPO check — the same prompts through several model folders, outputs side by side,
// and with --check-prefix each model's success rate ("yes (成功)" / "no (失敗)": the output starts with the prefix).
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Models.Generation;
using Rlhf.Models.Lora;
using Rlhf.Text;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class CompareCommand
{
    public static Command Create()
    {
        var models = new Option<string[]?>("--models") { Description = "Model folders to compare; required here or in --config (a YAML list).", AllowMultipleArgumentsPerToken = true };
        var prompt = new Option<string?>("--prompt") { Description = $"One question, e.g. \"What is 2 plus 3?\" ({PromptStyle.EscapeHelp})." };
        var prompts = new Option<string?>("--prompts") { Description = "A file of questions: one per line, or JSONL with a \"prompt\" field." };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token (the textbook's DPO check uses do_sample=False)." };
        var temperature = new Option<float?>("--temperature") { Description = "Sample at this temperature." };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most (the textbook's DPO check uses 100).", DefaultValueFactory = _ => 100 };
        var checkPrefix = new Option<string?>("--check-prefix")
        {
            Description = "Mark each output yes (成功, success) when it starts with this text after leading whitespace, else no (失敗), "
                + "and print each model's success rate; e.g. \"Let me explain.\".",
        };
        var promptOptions = new PromptOptions();
        var truncate = PromptOptions.TruncateLeftOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every output (and the success rates)." };
        var weightsDtype = GenerateCommand.WeightsDtypeOption();
        var configFile = CommandSettings.CreateConfigOption();
        var command = new Command("compare", "Generate from several models and show their outputs side by side. " + PromptOptions.Story)
        {
            models, prompt, prompts, greedy, temperature, seed, maxNewTokens, checkPrefix, truncate, json, weightsDtype, configFile,
        };
        promptOptions.AddTo(command);
        var lora = new LoraCliOptions();
        lora.Adapter.Description = "A PEFT LoRA adapter folder: compared as one more model, merged onto the first --models folder (its base).";
        lora.AddTo(command, training: false);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, configFile);
            var folders = settings.Require(models);
            foreach (var folder in folders) InputFiles.RequireFolder(folder, "--models");
            var questions = PromptInput.Read(settings.Get(prompt), settings.Get(prompts));
            bool isGreedy = settings.Get(greedy), asJson = settings.Get(json), truncateLeft = settings.Get(truncate);
            string? prefix = settings.Get(checkPrefix) is { } given ? PromptStyle.Unescape(given) : null;
            string dtype = GenerateCommand.DtypeName(GenerateCommand.ParseWeightsDtype(settings.Get(weightsDtype)));
            float? temp = settings.Get(temperature);
            int maxNew = settings.Get(maxNewTokens);
            ulong sampleSeed = settings.Get(seed);
            if (isGreedy && temp is not null) throw new ArgumentException("--greedy cannot be combined with --temperature.");
            if (maxNew <= 0) throw new ArgumentException($"--max-new-tokens must be at least 1 (got {maxNew}).");
            promptOptions.Resolve(settings, null); // the template is checked before any model loads

            string? adapter = lora.AdapterFolder(settings);
            string[] modelOf = adapter is null ? folders : [.. folders, folders[0]];
            string?[] adapterOf = [.. folders.Select(_ => (string?)null), .. adapter is null ? Array.Empty<string?>() : [adapter]];
            var outputs = new string[modelOf.Length][];
            for (int m = 0; m < modelOf.Length; m++)
            {
                using var folder = ModelFolder.Load(modelOf[m]);
                if (adapterOf[m] is { } adapterDir) LoraMerge.MergeAndUnload(PeftAdapterFolder.Attach(folder.Model, modelOf[m], adapterDir));
                var defaults = folder.Generation.ToOptions();
                var options = defaults with
                {
                    MaxNewTokens = maxNew,
                    DoSample = temp is not null || (!isGreedy && defaults.DoSample),
                    Temperature = temp ?? defaults.Temperature,
                    Seed = sampleSeed,
                    EosTokenId = folder.EosTokenId,
                    PadTokenId = folder.PadTokenId,
                    TruncatePromptLeft = truncateLeft,
                };
                var style = promptOptions.Resolve(settings, modelOf[m]);
                var promptIds = questions.Select(q => folder.Tokenizer.Encode(style.Render(q))).ToArray();
                PromptOptions.CheckLengths(promptIds, folder.Model.Config.ContextLength, maxNew, truncateLeft, modelOf[m]);
                using var packed = GenerateCommand.PackWeights(folder.Model, dtype);
                var results = Generator.Generate(folder.Model, promptIds, options, packed);
                outputs[m] = results.Select(r => folder.Tokenizer.Decode(r.EndedWithEos ? r.Ids[..^1] : r.Ids)).ToArray();
            }
            if (adapter is not null) folders = [.. folders, $"{folders[0]} + {adapter}"]; // the columns' names
            var rates = prefix is null ? null
                : outputs.Select(o => (double)o.Count(text => Succeeds(text, prefix)) / o.Length).ToArray();

            if (asJson)
            {
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["models"] = folders,
                    ["prompts"] = questions,
                    ["outputs"] = Enumerable.Range(0, questions.Count).Select(p => folders.Select((_, m) => outputs[m][p]).ToArray()).ToArray(),
                    ["check_prefix"] = prefix,
                    ["success"] = prefix is null ? null : Enumerable.Range(0, questions.Count).Select(p => folders.Select((_, m) => Succeeds(outputs[m][p], prefix)).ToArray()).ToArray(),
                    ["success_rate"] = rates is null ? null : folders.Select((f, m) => new KeyValuePair<string, double>(f, rates[m])).ToDictionary(),
                }));
                return 0;
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumn("prompt");
            foreach (var folder in folders) table.AddColumn(Markup.Escape(folder));
            for (int p = 0; p < questions.Count; p++)
            {
                var cells = new List<string> { Markup.Escape(questions[p]) };
                for (int m = 0; m < folders.Length; m++)
                {
                    string mark = prefix is null ? "" : Succeeds(outputs[m][p], prefix) ? "[green]yes (成功)[/] " : "[red]no (失敗)[/] ";
                    cells.Add(mark + Markup.Escape(outputs[m][p]));
                }
                table.AddRow(cells.ToArray());
            }
            console.Write(table);
            if (rates is not null)
            {
                TrainingRunner.Line(console, $"yes (成功) / no (失敗): the output starts with \"{prefix}\" (after leading whitespace).");
                var summary = new Table().Border(TableBorder.Rounded).AddColumns("model", $"starts with \"{Markup.Escape(prefix!)}\"", "rate");
                for (int m = 0; m < folders.Length; m++)
                {
                    int hits = outputs[m].Count(text => Succeeds(text, prefix!));
                    summary.AddRow(Markup.Escape(folders[m]), $"{hits}/{questions.Count}", rates[m].ToString("P1", CultureInfo.InvariantCulture));
                }
                console.Write(summary);
                for (int m = 0; m < folders.Length; m++)
                    TrainingRunner.Line(console, $"success rate {folders[m]}: {rates[m].ToString("F3", CultureInfo.InvariantCulture)}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The textbook's check: the generated text, leading whitespace trimmed, starts with the prefix.</summary>
    public static bool Succeeds(string output, string prefix) => output.TrimStart().StartsWith(prefix, StringComparison.Ordinal);
}
