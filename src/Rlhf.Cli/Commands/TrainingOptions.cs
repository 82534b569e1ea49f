// The options every training command shares: transformers' TrainingArguments kebab-cased, --config, and held-out data
// (--eval-dataset / --eval-split). Each command passes its own defaults (the seeds' settings).
using System.CommandLine;
using Rlhf.Tensors;
using Rlhf.Training;

namespace Rlhf.Cli.Commands;

internal sealed class TrainingOptions
{
    public Option<string?> Config { get; } = CommandSettings.CreateConfigOption();
    public Option<string?> OutputDir { get; } = new("--output-dir", "--output") { Description = "Folder for the trained model, checkpoints, metrics.jsonl and rlhf_config.yaml." };
    public Option<bool> OverwriteOutputDir { get; } = new("--overwrite-output-dir") { Description = "Replace a model already in the output folder." };
    public Option<double> NumTrainEpochs { get; }
    public Option<int> MaxSteps { get; }
    public Option<int> PerDeviceTrainBatchSize { get; }
    public Option<int> PerDeviceEvalBatchSize { get; }
    public Option<int> GradientAccumulationSteps { get; }
    public Option<float> LearningRate { get; }
    public Option<float> WeightDecay { get; }
    public Option<float> AdamBeta1 { get; }
    public Option<float> AdamBeta2 { get; }
    public Option<float> AdamEpsilon { get; }
    public Option<float> MaxGradNorm { get; }
    public Option<string> LrSchedulerType { get; }
    public Option<double> WarmupRatio { get; }
    public Option<int> WarmupSteps { get; }
    public Option<int> LoggingSteps { get; }
    public Option<int> EvalSteps { get; }
    public Option<int> SaveSteps { get; }
    public Option<int> SaveTotalLimit { get; }
    public Option<ulong> Seed { get; }
    public Option<string?> ResumeFromCheckpoint { get; } = new("--resume-from-checkpoint") { Description = "Continue from a checkpoint folder, or \"latest\" in the output folder." };
    public Option<int> MaxNonFiniteSteps { get; }
    public Option<double> DivergenceLossRatio { get; }
    public Option<string?> EvalDataset { get; } = new("--eval-dataset") { Description = "Held-out data file (same format as --dataset)." };
    public Option<double> EvalSplit { get; } = new("--eval-split") { Description = "Hold out this fraction of --dataset for evaluation (deterministic with --seed; 0 = none).", DefaultValueFactory = _ => 0 };

    public TrainingOptions(TrainingArguments defaults)
    {
        NumTrainEpochs = new("--num-train-epochs") { Description = "Passes over the training data.", DefaultValueFactory = _ => defaults.NumTrainEpochs };
        MaxSteps = new("--max-steps") { Description = "Stop after this many optimizer steps (wins over --num-train-epochs); -1 = no step limit, train for the epochs.", DefaultValueFactory = _ => defaults.MaxSteps };
        PerDeviceTrainBatchSize = new("--per-device-train-batch-size") { Description = "Examples per micro-batch.", DefaultValueFactory = _ => defaults.PerDeviceTrainBatchSize };
        PerDeviceEvalBatchSize = new("--per-device-eval-batch-size") { Description = "Examples per evaluation batch.", DefaultValueFactory = _ => defaults.PerDeviceEvalBatchSize };
        GradientAccumulationSteps = new("--gradient-accumulation-steps") { Description = "Micro-batches per optimizer step.", DefaultValueFactory = _ => defaults.GradientAccumulationSteps };
        LearningRate = new("--learning-rate") { Description = "Peak AdamW learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        WeightDecay = new("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => defaults.WeightDecay };
        AdamBeta1 = new("--adam-beta1") { Description = "AdamW β1.", DefaultValueFactory = _ => defaults.AdamBeta1 };
        AdamBeta2 = new("--adam-beta2") { Description = "AdamW β2.", DefaultValueFactory = _ => defaults.AdamBeta2 };
        AdamEpsilon = new("--adam-epsilon") { Description = "AdamW ε.", DefaultValueFactory = _ => defaults.AdamEpsilon };
        MaxGradNorm = new("--max-grad-norm") { Description = "Clip the global gradient norm to this (0 = no clipping).", DefaultValueFactory = _ => defaults.MaxGradNorm };
        LrSchedulerType = new("--lr-scheduler-type") { Description = "Learning-rate schedule (linear, cosine, constant, constant_with_warmup).", DefaultValueFactory = _ => defaults.LrSchedulerType };
        WarmupRatio = new("--warmup-ratio") { Description = "Warmup as a fraction of all steps.", DefaultValueFactory = _ => defaults.WarmupRatio };
        WarmupSteps = new("--warmup-steps") { Description = "Warmup steps (wins over --warmup-ratio).", DefaultValueFactory = _ => defaults.WarmupSteps };
        LoggingSteps = new("--logging-steps") { Description = "Log averaged metrics every N steps.", DefaultValueFactory = _ => defaults.LoggingSteps };
        EvalSteps = new("--eval-steps") { Description = "Evaluate every N steps (0 = at the end only).", DefaultValueFactory = _ => defaults.EvalSteps };
        SaveSteps = new("--save-steps") { Description = "Checkpoint every N steps (0 = none; Ctrl-C always checkpoints).", DefaultValueFactory = _ => defaults.SaveSteps };
        SaveTotalLimit = new("--save-total-limit") { Description = "Checkpoints kept (0 = all).", DefaultValueFactory = _ => defaults.SaveTotalLimit };
        MaxNonFiniteSteps = new("--max-nonfinite-steps") { Description = "Stop as diverged after this many non-finite steps in a row (0 = only skip them).", DefaultValueFactory = _ => defaults.MaxNonFiniteSteps };
        DivergenceLossRatio = new("--divergence-loss-ratio") { Description = "Stop as diverged when the loss exceeds this multiple of its first value (0 = off).", DefaultValueFactory = _ => defaults.DivergenceLossRatio };
        Seed = new("--seed") { Description = "Seed for initialisation, shuffling and the eval split.", DefaultValueFactory = _ => defaults.Seed };
    }

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[]
        {
            Config, OutputDir, OverwriteOutputDir, NumTrainEpochs, MaxSteps, PerDeviceTrainBatchSize, PerDeviceEvalBatchSize,
            GradientAccumulationSteps, LearningRate, WeightDecay, AdamBeta1, AdamBeta2, AdamEpsilon, MaxGradNorm, LrSchedulerType,
            WarmupRatio, WarmupSteps, LoggingSteps, EvalSteps, SaveSteps, SaveTotalLimit, Seed, ResumeFromCheckpoint, EvalDataset, EvalSplit,
            MaxNonFiniteSteps, DivergenceLossRatio,
        })
            command.Options.Add(option);
    }

    public TrainingArguments Resolve(CommandSettings settings)
    {
        int maxSteps = settings.Get(MaxSteps);
        if (maxSteps == 0 || maxSteps < -1)
            throw new ArgumentException($"--max-steps {maxSteps} would not train; give a positive number of steps, or -1 (no step limit) to train for --num-train-epochs.");
        var arguments = new TrainingArguments
        {
            OutputDir = InputFiles.RequireOutputFolder(settings.Require(OutputDir), "--output-dir"),
            OverwriteOutputDir = settings.Get(OverwriteOutputDir),
            NumTrainEpochs = settings.Get(NumTrainEpochs),
            MaxSteps = maxSteps,
            PerDeviceTrainBatchSize = settings.Get(PerDeviceTrainBatchSize),
            PerDeviceEvalBatchSize = settings.Get(PerDeviceEvalBatchSize),
            GradientAccumulationSteps = settings.Get(GradientAccumulationSteps),
            LearningRate = settings.Get(LearningRate),
            WeightDecay = settings.Get(WeightDecay),
            AdamBeta1 = settings.Get(AdamBeta1),
            AdamBeta2 = settings.Get(AdamBeta2),
            AdamEpsilon = settings.Get(AdamEpsilon),
            MaxGradNorm = settings.Get(MaxGradNorm),
            LrSchedulerType = settings.Get(LrSchedulerType),
            WarmupRatio = settings.Get(WarmupRatio),
            WarmupSteps = settings.Get(WarmupSteps),
            LoggingSteps = settings.Get(LoggingSteps),
            EvalSteps = settings.Get(EvalSteps),
            SaveSteps = settings.Get(SaveSteps),
            SaveTotalLimit = settings.Get(SaveTotalLimit),
            Seed = settings.Get(Seed),
            ResumeFromCheckpoint = settings.Get(ResumeFromCheckpoint),
            MaxNonFiniteSteps = settings.Get(MaxNonFiniteSteps),
            DivergenceLossRatio = settings.Get(DivergenceLossRatio),
        };
        try
        {
            arguments.Validate();
        }
        catch (ArgumentException error)
        {
            throw new ArgumentException(OptionNames(error.Message));
        }
        if (settings.Get(EvalDataset) is { } evalFile) InputFiles.RequireFile(evalFile, "--eval-dataset");
        // Fail before loading data when the run would replace a model (the loop checks again).
        if (arguments.ResumeFromCheckpoint is null && !arguments.OverwriteOutputDir && CheckpointStore.HoldsModel(arguments.OutputDir))
            throw new IOException($"{arguments.OutputDir} already holds a trained model; pass --overwrite-output-dir to replace it or --resume-from-checkpoint to continue.");
        return arguments;
    }

    /// <summary>TrainingArguments' snake_case names ("num_train_epochs") as the options the user typed ("--num-train-epochs").</summary>
    public static string OptionNames(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message.Replace("Invalid training arguments: ", "", StringComparison.Ordinal),
            @"\b[a-z]+(?:_[a-z0-9]+)+\b", m => "--" + m.Value.Replace('_', '-'));

    /// <summary>
    /// Train and eval sets: --eval-dataset (prepared by <paramref name="load"/>) or a deterministic --eval-split of the
    /// training examples (shuffled with the seed), or no eval set.
    /// </summary>
    public (IReadOnlyList<T> Train, IReadOnlyList<T>? Eval) Split<T>(CommandSettings settings, IReadOnlyList<T> examples, ulong seed, Func<string, IReadOnlyList<T>> load)
    {
        string? evalFile = settings.Get(EvalDataset);
        double fraction = settings.Get(EvalSplit);
        if (evalFile is not null && fraction > 0) throw new ArgumentException("Give at most one of --eval-dataset and --eval-split.");
        if (evalFile is not null) return (examples, load(evalFile));
        if (fraction <= 0) return (examples, null);
        if (fraction >= 1) throw new ArgumentException($"--eval-split must lie in [0, 1) (got {fraction}).");
        int evalCount = (int)Math.Ceiling(fraction * examples.Count);
        if (evalCount >= examples.Count) throw new ArgumentException($"--eval-split {fraction} leaves no training examples out of {examples.Count}.");
        var order = Enumerable.Range(0, examples.Count).ToArray();
        new Rng(seed).Shuffle(order.AsSpan());
        var eval = order.Take(evalCount).Order().Select(i => examples[i]).ToArray();
        var train = order.Skip(evalCount).Order().Select(i => examples[i]).ToArray();
        return (train, eval);
    }
}
