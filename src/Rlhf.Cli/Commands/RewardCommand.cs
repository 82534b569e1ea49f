// `rlhf reward`: trains a reward model (GPT-2 backbone + scalar head) on preference pairs or ranked lists, with the
// settings of the textbook's RewardConfig; eval metrics keep TRL's names (accuracy, margin, mean/min/max_reward).
using System.CommandLine;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Reward;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class RewardCommand
{
    /// <summary>
    /// Seed 000: <c>RewardConfig(per_device_train_batch_size = 32, num_train_epochs = 3, gradient_accumulation_steps=2,
    /// learning_rate=2e-5, optim="adamw_torch", logging_steps=10, max_length=512)</c>.
    /// </summary>
    public static readonly TrainingArguments Defaults = new()
    {
        PerDeviceTrainBatchSize = 32, PerDeviceEvalBatchSize = 32, NumTrainEpochs = 3, GradientAccumulationSteps = 2, LearningRate = 2e-5f,
        LoggingSteps = 10,
    };

    public static readonly string[] LossNames = ["pairwise", "kwise", "softmax", "margin-ranking"];

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "A causal-LM folder (a fresh scalar head is added) or a reward-model folder." };
        var loss = new Option<string>("--loss") { Description = "pairwise (−log σ(r_w − r_l − margin)), kwise (InstructGPT), softmax (best of K), margin-ranking.", DefaultValueFactory = _ => "pairwise" };
        loss.AcceptOnlyFromAmong(LossNames);
        var pooling = new Option<string>("--pooling") { Description = "Token the head reads: last (non-pad), first, mean.", DefaultValueFactory = _ => "last" };
        pooling.AcceptOnlyFromAmong("last", "first", "mean");
        var center = new Option<float>("--center-rewards-coefficient") { Description = "Adds c·mean((r_w + r_l)²) to keep rewards centred (TRL).", DefaultValueFactory = _ => 0f };
        var marginColumn = new Option<bool>("--margin-column") { Description = "Use the rows' \"margin\" field (or score differences of ranked lists) in the pairwise loss." };
        var rankingMargin = new Option<float>("--ranking-margin") { Description = "Margin of the margin-ranking loss.", DefaultValueFactory = _ => 1f };
        var training = new TrainingOptions(Defaults);
        // The textbook keeps a pair when chosen and rejected each fit in max_length = 512 tokens; it has no prompt limit.
        var data = new DataOptions(maxLength: 512, maxPromptLength: 512, letMeExplain: true);
        var command = new Command("reward", "Train a reward model on preference pairs or ranked responses.") { model, loss, pooling, center, marginColumn, rankingMargin };
        data.AddTo(command);
        training.AddTo(command);
        var lora = new LoraCliOptions();
        lora.AddTo(command, training: true);
        var frozen = new FrozenReferenceOptions();
        frozen.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, training.Config);
            string modelDir = InputFiles.RequireFolder(settings.Require(model), "--model"), dataset = data.CheckEarly(settings);
            var config = new RewardConfig
            {
                LossType = ParseLoss(settings.Get(loss)),
                CenterRewardsCoefficient = settings.Get(center),
                RankingMargin = settings.Get(rankingMargin),
            };
            config.Validate();
            var poolingKind = RewardModel.ParsePooling(settings.Get(pooling));
            bool useMargins = settings.Get(marginColumn);
            var arguments = training.Resolve(settings);
            bool useLora = lora.Resolve(settings, modelDir, arguments.Seed) is not null | lora.AdapterFolder(settings) is not null;
            var basePrecision = frozen.Resolve(settings, useLora, hasReference: false);
            var tokenizer = BpeTokenizer.FromFolder(modelDir);
            using var rewardModel = RewardModel.LoadOrCreate(modelDir, poolingKind, arguments.Seed);
            rewardModel.Model.GradientCheckpointing = arguments.GradientCheckpointing;
            var adapters = lora.Apply(console, settings, rewardModel.Model, modelDir, arguments.Seed); // the score head stays fully trained (modules_to_save)
            FrozenReferenceOptions.PackBase(basePrecision, rewardModel.Model, adapters);
            var modelConfig = rewardModel.Model.Config;
            int pad = rewardModel.PadTokenId ?? tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? modelConfig.EosTokenId ?? 0;
            rewardModel.PadTokenId = pad; // saved in config.json: transformers pools at the last id that is not this one
            int? eos = tokenizer.EosTokenId ?? modelConfig.EosTokenId;
            var options = data.Resolve(settings, tokenizer, modelConfig.ContextLength, DataTask.Reward, modelDir) with { EosTokenId = eos };
            var examples = Prepare(console, dataset, options, tokenizer, eos, useMargins);
            var (train, eval) = training.Split(settings, examples, arguments.Seed, path => Prepare(console, path, options, tokenizer, eos, useMargins));
            using var task = new RewardTask(rewardModel, config, pad, tokenizer.Save);
            return TrainingRunner.Run(console, "reward", settings, task, arguments, train, eval);
        }));
        return command;
    }

    public static RewardLossType ParseLoss(string name) => name switch
    {
        "pairwise" => RewardLossType.Pairwise,
        "kwise" => RewardLossType.KWise,
        "softmax" => RewardLossType.SoftmaxK,
        "margin-ranking" => RewardLossType.MarginRanking,
        _ => throw new ArgumentException($"Unknown --loss '{name}'; use one of {string.Join(", ", LossNames)}."),
    };

    /// <summary>
    /// Pairs (hh-rlhf, explicit, conversational) → 2 sequences; ranked lists → K sequences, best first. Each sequence is
    /// the whole rendered text tokenized at once, as the textbook's <c>tokenizer(text)</c> (PITFALLS #12).
    /// </summary>
    private static IReadOnlyList<RewardExample> Prepare(IAnsiConsole console, string path, DataPipelineOptions options, BpeTokenizer tokenizer, int? eos, bool useMargins)
    {
        var format = options.Format == DataFormat.Auto ? DataInspector.Inspect(path, maxRows: 1).Format : options.Format;
        var encoder = options.Encoder ?? new DelegateTextEncoder(text => tokenizer.Encode(text));
        int[] Encode(string prompt, string response, bool chatRendered = false) => TokenSequences.Whole(encoder, prompt, response, options.Template, chatRendered ? null : eos);
        List<RewardExample> examples;
        DataReport report;
        if (format == DataFormat.Ranked)
        {
            report = new DataReport { Source = path };
            examples = [];
            int read = 0;
            foreach (var row in DataRowReader.Read(path, options.SkipBadRows, report, options.MaxLineLength))
            {
                var ranked = DataFormats.ParseRanked(row);
                read++;
                string prompt = options.Template.RenderPrompt(ranked.Prompt);
                var sequences = ranked.Responses.Select(r => Encode(prompt, options.Template.RenderResponse(r, options.Eos))).ToArray();
                if (sequences.Length < 2 || sequences.Any(s => s.Length > options.MaxLength))
                {
                    report.AddDrop(sequences.Length < 2 ? "fewer than two responses" : DropReasons.TotalTooLong, row.Location);
                    continue;
                }
                float? margin = useMargins && ranked.Scores is { Count: 2 } scores ? (float)(scores[0] - scores[1]) : null;
                examples.Add(new RewardExample(sequences, margin));
            }
            report.AddStep("read", read);
            report.AddStep("length", examples.Count);
        }
        else
        {
            var result = PreferencePipeline.Run(path, options with { Format = format });
            report = result.Report;
            examples = result.Examples
                .Select(p => new RewardExample([Encode(p.Prompt, p.Chosen, p.ChatRendered), Encode(p.Prompt, p.Rejected, p.ChatRendered)], useMargins ? p.Margin : null))
                .ToList();
        }
        TrainingRunner.Line(console, report.ToString().TrimEnd());
        if (examples.Count == 0) throw new ArgumentException($"No examples left in {path} after filtering (see the report above).");
        return examples;
    }
}
