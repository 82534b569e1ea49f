// `rlhf score`: rewards from a trained reward model for a prompt and responses (the textbook's gold-bar check), or for every
// row of a data file (adds score / chosen_score / rejected_score columns and prints pairwise accuracy).
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Text;
using Rlhf.Training.Reward;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class ScoreCommand
{
    public static Command Create()
    {
        var rewardModel = new Option<string?>("--reward-model") { Description = "Reward-model folder written by `rlhf reward`; required here or in --config." };
        var prompt = new Option<string?>("--prompt") { Description = $"The instruction (rendered as in every command; {PromptStyle.EscapeHelp})." };
        var responses = new Option<string[]>("--response") { Description = "A response to score (repeat for several; a YAML list in --config)." };
        var dataset = new Option<string?>("--dataset") { Description = "Score every row: pairs get chosen_score/rejected_score, other rows score." };
        var output = new Option<string?>("--output") { Description = "With --dataset: write the rows with their scores to this JSONL file." };
        var promptOptions = new PromptOptions();
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences scored together.", DefaultValueFactory = _ => 16 };
        var json = new Option<bool>("--json") { Description = "Machine-readable output." };
        var maxLineLength = DataOptions.CreateMaxLineLength();
        var configFile = CommandSettings.CreateConfigOption();
        var command = new Command("score", "Score responses with a reward model. " + PromptOptions.Story
            + " Texts longer than the model's context are scored on their last tokens, counted in a warning.")
        {
            rewardModel, prompt, responses, dataset, output, batchSize, json, maxLineLength, configFile,
        };
        promptOptions.AddTo(command);
        var lora = new LoraCliOptions();
        lora.AddTo(command, training: false);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, configFile);
            string directory = InputFiles.RequireFolder(settings.Require(rewardModel), "--reward-model");
            string? instruction = settings.Get(prompt), path = settings.Get(dataset), outputPath = settings.Get(output);
            var texts = (settings.Get(responses) ?? []).Select(PromptStyle.Unescape).ToArray();
            if (instruction is not null) instruction = PromptStyle.Unescape(instruction);
            bool asJson = settings.Get(json);
            int batch = Math.Max(1, settings.Get(batchSize));
            int longestLine = DataOptions.ResolveMaxLineLength(settings, maxLineLength);
            promptOptions.Resolve(settings, null); // the template is checked before the model loads
            if (path is not null)
            {
                if (instruction is not null || texts.Length > 0) throw new ArgumentException("Give either --dataset or --prompt/--response, not both.");
                InputFiles.RequireFile(path, "--dataset");
                if (outputPath is not null) InputFiles.RequireOutputFile(outputPath, "--output");
            }
            else
            {
                if (instruction is null) throw new ArgumentException("Give --prompt with one or more --response, or --dataset.");
                if (texts.Length == 0) throw new ArgumentException("Give at least one --response.");
                if (outputPath is not null) throw new ArgumentException("--output goes with --dataset.");
            }
            // With --adapter, --reward-model is the adapter's base (a causal LM or reward folder); the adapter brings the score head.
            using var model = lora.AdapterFolder(settings) is null ? RewardModel.Load(directory) : RewardModel.LoadOrCreate(directory, RewardPooling.LastToken, 0);
            lora.MergeInto(settings, model.Model, directory);
            var tokenizer = BpeTokenizer.FromFolder(directory);
            var promptTemplate = promptOptions.Resolve(settings, directory);
            var config = model.Model.Config;
            int pad = model.PadTokenId ?? tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? config.EosTokenId ?? 0;
            var scorer = new Scorer(model, tokenizer, promptTemplate, pad, tokenizer.EosTokenId ?? config.EosTokenId, batch);
            using var task = scorer.Task;

            if (path is not null)
            {
                int code = ScoreDataset(console, scorer, path, outputPath, asJson, longestLine);
                scorer.WarnAboutCuts();
                return code;
            }
            var scores = scorer.Score(texts.Select(r => (instruction!, r)).ToArray());
            scorer.WarnAboutCuts();
            for (int i = 0; i < texts.Length; i++)
            {
                if (asJson)
                    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["prompt"] = instruction!, ["response"] = texts[i], ["score"] = scores[i] }));
                else
                    console.MarkupLine($"{Fmt(scores[i])}\t{Markup.Escape(texts[i])}");
            }
            return 0;
        }));
        return command;
    }

    private static string Fmt(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    private static int ScoreDataset(IAnsiConsole console, Scorer scorer, string path, string? output, bool json, int maxLineLength)
    {
        var rows = DataRowReader.Read(path, maxLineLength: maxLineLength).ToList();
        if (rows.Count == 0) throw new ArgumentException($"{path} holds no rows.");
        var format = DataFormats.Detect(rows[0]);
        var outputs = new List<JsonObject>();
        int correct = 0, pairs = 0;
        foreach (var chunk in rows.Chunk(64))
        {
            var requests = new List<(string Prompt, string Response)>();
            var parsed = chunk.Select(row => Parse(row, format)).ToArray();
            foreach (var item in parsed) requests.AddRange(item.Texts);
            var scores = scorer.Score(requests);
            int offset = 0;
            for (int i = 0; i < chunk.Length; i++)
            {
                var node = JsonNode.Parse(chunk[i].Value.GetRawText())!.AsObject();
                var (kind, texts) = parsed[i];
                var mine = scores.Skip(offset).Take(texts.Length).ToArray();
                offset += texts.Length;
                if (kind == "pair")
                {
                    node["chosen_score"] = mine[0];
                    node["rejected_score"] = mine[1];
                    pairs++;
                    if (mine[0] > mine[1]) correct++;
                }
                else if (kind == "ranked") node["response_scores"] = new JsonArray(mine.Select(s => (JsonNode)s).ToArray());
                else node["score"] = mine[0];
                outputs.Add(node);
            }
        }
        if (output is not null) JsonlWriter.WriteAtomic(output, outputs);
        double? accuracy = pairs > 0 ? (double)correct / pairs : null;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?> { ["rows"] = rows.Count, ["pairs"] = pairs, ["accuracy"] = accuracy, ["output"] = output }));
            return 0;
        }
        if (output is null)
            foreach (var node in outputs.Take(20)) TrainingRunner.Line(console, node.ToJsonString());
        TrainingRunner.Line(console, $"Scored {rows.Count:N0} rows of {path}{(output is null ? "" : $"; wrote them to {output}")}.");
        if (accuracy is double a) TrainingRunner.Line(console, $"pairwise accuracy: {Fmt(a)} ({correct:N0} of {pairs:N0} chosen scored above rejected)");
        return 0;
    }

    private static (string Kind, (string Prompt, string Response)[] Texts) Parse(DataRow row, DataFormat format)
    {
        switch (format)
        {
            case DataFormat.Instruction:
                var example = DataFormats.ParseInstruction(row);
                return ("single", [(example.Instruction, example.Response)]);
            case DataFormat.Ranked:
                var ranked = DataFormats.ParseRanked(row);
                return ("ranked", ranked.Responses.Select(r => (ranked.Prompt, r)).ToArray());
            default:
                var pair = DataFormats.ParsePreference(row, format);
                return ("pair", [(pair.Prompt, pair.Chosen), (pair.Prompt, pair.Rejected)]);
        }
    }

    /// <summary>Renders, tokenizes the whole text at once as transformers does (EOS id when the template has none) and scores.</summary>
    private sealed class Scorer(RewardModel model, BpeTokenizer tokenizer, PromptStyle style, int pad, int? eos, int batchSize)
    {
        public RewardTask Task { get; } = new(model, new RewardConfig(), pad);
        private readonly int context = model.Model.Config.ContextLength;
        private readonly string eosText = tokenizer.EosToken ?? "<|endoftext|>";
        private readonly DelegateTextEncoder encoder = new(text => tokenizer.Encode(text));
        private int scored, cut;

        public float[] Score(IReadOnlyList<(string Prompt, string Response)> items)
        {
            var template = style.Template;
            var sequences = items.Select(item =>
            {
                int[] ids = TokenSequences.Whole(encoder, style.Render(item.Prompt), template.RenderResponse(item.Response, eosText), template, eos);
                scored++;
                if (ids.Length <= context) return ids;
                cut++;
                return ids[^context..]; // the score sits on the last token: keep the end
            }).ToArray();
            return sequences.Length == 0 ? [] : Task.Score(sequences, batchSize);
        }

        /// <summary>The counted warning for texts longer than the context (scored on their last tokens).</summary>
        public void WarnAboutCuts()
        {
            if (cut > 0)
                PromptOptions.Warn($"{cut} of {scored} texts were longer than the reward model's context of {context} tokens; each was scored on its last {context} tokens.");
        }
    }
}
