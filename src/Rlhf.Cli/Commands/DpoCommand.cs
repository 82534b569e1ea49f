// `rlhf dpo`: Direct Preference Optimization of an SFT model folder against a frozen (or precomputed) reference, with
// the textbook's DPOConfig (β 0.3) as defaults; metrics keep TRL's names (rewards/chosen, rewards/margins, logps/chosen …).
using System.CommandLine;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class DpoCommand
{
    /// <summary>
    /// Seeds 001/003: <c>DPOConfig(per_device_train_batch_size=4, num_train_epochs=1, learning_rate=1e-5,
    /// gradient_accumulation_steps=4, logging_steps=10, save_strategy="epoch", beta=0.3, max_length=512,
    /// max_prompt_length=256)</c>. save_strategy="epoch" with one epoch saves at the end: no step checkpoints (save_steps 0).
    /// </summary>
    public static readonly TrainingArguments Defaults = new()
    {
        PerDeviceTrainBatchSize = 4, PerDeviceEvalBatchSize = 4, NumTrainEpochs = 1, LearningRate = 1e-5f, GradientAccumulationSteps = 4,
        LoggingSteps = 10, SaveSteps = 0,
    };

    public static readonly string[] LossNames = ["sigmoid", "ipo", "hinge", "robust"];

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "The SFT model folder to train (the policy)." };
        var refModel = new Option<string?>("--ref-model") { Description = "Reference model folder (default: a second copy of --model; with LoRA, the model with its adapters off)." };
        var beta = new Option<float>("--beta") { Description = "β: how strongly the policy is held to the reference.", DefaultValueFactory = _ => 0.3f };
        var lossType = new Option<string>("--loss-type") { Description = "sigmoid (DPO), ipo, hinge, robust.", DefaultValueFactory = _ => "sigmoid" };
        lossType.AcceptOnlyFromAmong(LossNames);
        var labelSmoothing = new Option<float>("--label-smoothing") { Description = "ε: assumed label noise (conservative / robust DPO).", DefaultValueFactory = _ => 0f };
        var rpoAlpha = new Option<float?>("--rpo-alpha") { Description = "Weight of an NLL term on the chosen responses (RPO); off when not given." };
        var referenceFree = new Option<bool>("--reference-free") { Description = "Use a uniform reference (no reference model)." };
        var precompute = new Option<bool>("--precompute-ref-log-probs") { Description = "Compute the reference log-probs once, then free the reference model." };
        var frozen = new FrozenReferenceOptions();
        var training = new TrainingOptions(Defaults);
        var data = new DataOptions(maxLength: 512, maxPromptLength: 256, letMeExplain: true);
        var command = new Command("dpo", "Direct Preference Optimization of an SFT model on preference pairs.")
        {
            model, refModel, beta, lossType, labelSmoothing, rpoAlpha, referenceFree, precompute,
        };
        frozen.AddTo(command);
        data.AddTo(command);
        training.AddTo(command);
        var lora = new LoraCliOptions();
        lora.AddTo(command, training: true);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, training.Config);
            string modelDir = InputFiles.RequireFolder(settings.Require(model), "--model"), dataset = data.CheckEarly(settings);
            string? referenceDir = settings.Get(refModel);
            bool free = settings.Get(referenceFree), precomputeRef = settings.Get(precompute);
            var arguments = training.Resolve(settings);
            var frozenPrecision = frozen.Resolve(settings);
            lora.Resolve(settings, modelDir, arguments.Seed);
            lora.AdapterFolder(settings);
            using var folder = ModelFolder.Load(modelDir);
            folder.Model.GradientCheckpointing = arguments.GradientCheckpointing;
            var adapters = lora.Apply(console, settings, folder.Model, modelDir, arguments.Seed);
            FrozenReferenceOptions.PackBase(frozenPrecision, folder.Model, adapters);
            var options = data.Resolve(settings, folder.Tokenizer, folder.Model.Config.ContextLength, DataTask.Dpo, modelDir) with { EosTokenId = folder.EosTokenId };
            var config = new DpoConfig
            {
                Beta = settings.Get(beta),
                LossType = ParseLoss(settings.Get(lossType)),
                LabelSmoothing = settings.Get(labelSmoothing),
                RpoAlpha = settings.Get(rpoAlpha),
                ReferenceFree = free,
                MaxLength = options.MaxLength,
                MaxPromptLength = options.MaxPromptLength,
                PrecomputeRefLogProbs = precomputeRef,
            };
            config.Validate();
            var examples = Prepare(console, dataset, options, folder, config);
            var (train, eval) = training.Split(settings, examples, arguments.Seed, path => Prepare(console, path, options, folder, config));
            // TRL with a PEFT model: the reference is the policy with its adapters disabled (no second copy).
            var (reference, referenceWeights) = free ? ((ICausalLm?)null, (InferenceWeights?)null)
                : FrozenReferenceOptions.Load(frozenPrecision, folder.Model, adapters, modelDir, referenceDir);
            using var task = CreateTask(folder, reference, referenceWeights, config);
            if (precomputeRef && !free)
            {
                TrainingRunner.Line(console, $"Precomputing reference log-probs for {train.Count + (eval?.Count ?? 0):N0} pairs …");
                train = task.PrecomputeReferenceLogProbs(train, arguments.PerDeviceEvalBatchSize, DataParallelLaunch.Job);
                if (eval is not null) eval = task.PrecomputeReferenceLogProbs(eval, arguments.PerDeviceEvalBatchSize, DataParallelLaunch.Job);
                task.ReleaseReference();
            }
            return TrainingRunner.Run(console, "dpo", settings, task, arguments, train, eval);
        }));
        return command;
    }

    private static DpoTask CreateTask(ModelFolder folder, ICausalLm? reference, InferenceWeights? referenceWeights, DpoConfig config)
    {
        try
        {
            return new DpoTask(folder.Model, reference, config, folder.PadTokenId, directory => SftCommand.SaveExtras(folder, directory))
            {
                ReferenceWeights = referenceWeights,
            };
        }
        catch
        {
            reference?.Dispose();
            referenceWeights?.Dispose();
            throw;
        }
    }

    public static DpoLossType ParseLoss(string name) => name switch
    {
        "sigmoid" => DpoLossType.Sigmoid,
        "ipo" => DpoLossType.Ipo,
        "hinge" => DpoLossType.Hinge,
        "robust" => DpoLossType.Robust,
        _ => throw new ArgumentException($"Unknown --loss-type '{name}'; use one of {string.Join(", ", LossNames)}."),
    };

    /// <summary>Pipeline (report printed), then prompt / chosen / rejected tokenised apart and truncated as TRL does.</summary>
    private static IReadOnlyList<DpoExample> Prepare(IAnsiConsole console, string path, DataPipelineOptions options, ModelFolder folder, DpoConfig config)
    {
        var result = PreferencePipeline.Run(path, options);
        TrainingRunner.Line(console, result.Report.ToString().TrimEnd());
        if (result.Examples.Count == 0) throw new ArgumentException($"No preference pairs left in {path} after filtering (see the report above).");
        var tokenizer = folder.Tokenizer;
        return result.Examples
            .Select(p => new DpoExample(tokenizer.Encode(p.Prompt),
                    p.ChatRendered ? TokenSequences.After(options.Encoder!, p.Prompt, p.Chosen) : DataOptions.EncodeResponse(tokenizer, p.Chosen, options.Template, folder.EosTokenId),
                    p.ChatRendered ? TokenSequences.After(options.Encoder!, p.Prompt, p.Rejected) : DataOptions.EncodeResponse(tokenizer, p.Rejected, options.Template, folder.EosTokenId))
                .Truncate(config.MaxLength, config.MaxPromptLength))
            .ToArray();
    }
}
