// `rlhf grpo` and `rlhf rloo`: critic-free RL from checked or learned rewards (TRL's GRPOTrainer and RLOOTrainer, with
// their option names and defaults). The reward functions, in this order for --reward-weights: each --reward-model,
// then --reward-exact-match, --reward-numeric, --reward-regex, --reward-contains, --reward-length, --reward-command.
using System.CommandLine;
using System.Globalization;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Grpo;
using Rlhf.Training.Ppo;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class GrpoCommand
{
    public static Command CreateGrpo() => Create("grpo", GrpoConfig.Grpo,
        "Train a policy with GRPO: several completions per prompt, rewards from rules, commands or reward models, group-relative advantages.");

    public static Command CreateRloo() => Create("rloo", GrpoConfig.Rloo,
        "Train a policy with RLOO: k completions per prompt, each judged against the mean reward of the others, a KL penalty in the reward.");

    private static Command Create(string name, GrpoConfig defaults, string description)
    {
        bool rloo = defaults.Estimator == GroupEstimator.LeaveOneOut;
        var model = new Option<string?>("--model") { Description = "The policy's starting model folder (usually an SFT model)." };
        var refModel = new Option<string?>("--ref-model") { Description = "Frozen reference for the KL term (default: --model); not loaded when --beta is 0." };
        var dataset = new Option<string?>("--dataset") { Description = "Prompts: JSONL rows with prompt/instruction/question (other columns feed the rule rewards), or plain text lines." };
        var rewardModels = new Option<string[]>("--reward-model") { Description = "A reward model folder (rlhf reward output) as a reward function; repeatable.", AllowMultipleArgumentsPerToken = true };
        var exactMatch = new Option<string?>("--reward-exact-match") { Description = "Reward 1 when the completion (trimmed) equals this dataset column." };
        var numeric = new Option<string?>("--reward-numeric") { Description = "Reward 1 when the completion's last number equals this dataset column." };
        var regex = new Option<string?>("--reward-regex") { Description = "Reward 1 when the completion matches this regular expression." };
        var contains = new Option<string?>("--reward-contains") { Description = "Reward 1 when the completion contains this text." };
        var length = new Option<string?>("--reward-length") { Description = "Reward 1 when the completion has MIN:MAX characters." };
        var command = new Option<string?>("--reward-command") { Description = "A shell command: JSONL {prompt, completion, row} on stdin, one score per line on stdout (nan = cannot score)." };
        var commandTimeout = new Option<double>("--reward-command-timeout") { Description = "Seconds the reward command may take per batch.", DefaultValueFactory = _ => 60 };
        var weights = new Option<double[]>("--reward-weights") { Description = "One weight per reward function, in the order listed in the command's description (default: all 1).", AllowMultipleArgumentsPerToken = true };
        var generations = new Option<int>("--num-generations") { Description = rloo ? "Completions per prompt (k)." : "Completions per prompt (G).", DefaultValueFactory = _ => defaults.NumGenerations };
        var maxLength = new Option<int>("--max-completion-length") { Description = "Completion length limit in tokens.", DefaultValueFactory = _ => defaults.MaxCompletionLength };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (the loss's log-probs use the same).", DefaultValueFactory = _ => defaults.Temperature };
        var beta = new Option<double>("--beta") { Description = rloo ? "KL coefficient: β·Σ(log π_old − log π_ref) is taken off each reward." : "KL coefficient (0: no reference model is loaded; > 0 adds β·k3 per token).", DefaultValueFactory = _ => defaults.Beta };
        var epsilon = new Option<double>("--epsilon") { Description = "Lower (and default upper) clip range of the importance ratio.", DefaultValueFactory = _ => defaults.Epsilon };
        var epsilonHigh = new Option<double?>("--epsilon-high") { Description = "Upper clip range (DAPO recommends 0.28; default: --epsilon)." };
        var iterations = new Option<int>("--num-iterations") { Description = "Optimizer updates per generation batch (μ), with importance ratios.", DefaultValueFactory = _ => defaults.NumIterations };
        var maskTruncated = new Option<bool>("--mask-truncated-completions") { Description = "Leave completions without EOS out of the loss." };
        var lossType = new Option<string>("--loss-type") { Description = "grpo (per-sequence mean), dr_grpo (÷ max length), dapo (÷ tokens of the generation batch), bnpo (÷ tokens of the micro-batch).", DefaultValueFactory = _ => "dapo" };
        lossType.AcceptOnlyFromAmong("grpo", "dr_grpo", "dapo", "bnpo");
        var scaleRewards = new Option<string>("--scale-rewards") { Description = "Divide advantages by the group's std (group), the batch's (batch), or not at all (none).", DefaultValueFactory = _ => "group" };
        scaleRewards.AcceptOnlyFromAmong("group", "batch", "none");
        var normalize = new Option<bool>("--normalize-advantages") { Description = "Whiten the advantages over the generation batch." };
        var maxLineLength = DataOptions.CreateMaxLineLength();
        var promptOptions = new PromptOptions();
        var training = new TrainingOptions(GrpoTrainer.DefaultArguments); // TRL's GRPOConfig / RLOOConfig training defaults
        var cmd = new Command(name, description)
        {
            model, refModel, dataset, rewardModels, exactMatch, numeric, regex, contains, length, command, commandTimeout, weights,
            generations, maxLength, temperature, beta, epsilon, epsilonHigh, iterations, maskTruncated, maxLineLength,
        };
        if (rloo) cmd.Options.Add(normalize);
        else
        {
            cmd.Options.Add(lossType);
            cmd.Options.Add(scaleRewards);
        }
        promptOptions.AddTo(cmd);
        training.AddTo(cmd);
        var lora = new LoraCliOptions();
        lora.AddTo(cmd, training: true);
        var frozen = new FrozenReferenceOptions();
        frozen.AddTo(cmd);
        cmd.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, training.Config);
            string modelDir = settings.Require(model), data = settings.Require(dataset);
            var resolved = training.Resolve(settings);
            bool useLora = lora.Resolve(settings, modelDir, resolved.Seed) is not null | lora.AdapterFolder(settings) is not null;
            var basePrecision = frozen.Resolve(settings, useLora, hasReference: false); // without LoRA its reference stays fp32
            var (config, arguments) = (defaults with
            {
                NumGenerations = settings.Get(generations), NumIterations = settings.Get(iterations),
                MaxCompletionLength = settings.Get(maxLength), Temperature = settings.Get(temperature), Beta = settings.Get(beta),
                Epsilon = settings.Get(epsilon), EpsilonHigh = settings.Get(epsilonHigh), MaskTruncatedCompletions = settings.Get(maskTruncated),
                LossType = rloo ? defaults.LossType : settings.Get(lossType) switch
                {
                    "grpo" => GrpoLossType.Grpo, "dr_grpo" => GrpoLossType.DrGrpo, "bnpo" => GrpoLossType.Bnpo, _ => GrpoLossType.Dapo,
                },
                ScaleRewards = rloo ? defaults.ScaleRewards : settings.Get(scaleRewards) switch
                {
                    "batch" => RewardScaling.Batch, "none" => RewardScaling.None, _ => RewardScaling.Group,
                },
                NormalizeAdvantages = rloo && settings.Get(normalize),
            }).Bind(resolved);
            config.Validate();
            var promptTemplate = promptOptions.Resolve(settings, modelDir);

            var disposables = new List<IDisposable>();
            try
            {
                var functions = new List<ICompletionReward>();
                var folder = ModelFolder.Load(modelDir);
                disposables.Add(folder);
                folder.Model.GradientCheckpointing = arguments.GradientCheckpointing;
                var adapters = lora.Apply(console, settings, folder.Model, modelDir, arguments.Seed);
                FrozenReferenceOptions.PackBase(basePrecision, folder.Model, adapters);
                foreach (var dir in settings.Get(rewardModels) ?? [])
                {
                    var rewardModel = RewardModel.Load(dir);
                    disposables.Add(rewardModel);
                    var scorer = new RewardModelScorer(rewardModel, BpeTokenizer.FromFolder(dir), folder.Tokenizer);
                    disposables.Add(scorer);
                    functions.Add(new ModelReward(scorer, settings.Get(rewardModels)!.Length == 1 ? "reward_model" : $"reward_model_{functions.Count}"));
                }
                if (settings.Get(exactMatch) is { } column) functions.Add(new ExactMatchReward(column));
                if (settings.Get(numeric) is { } numericColumn) functions.Add(new NumericAnswerReward(numericColumn));
                if (settings.Get(regex) is { } pattern) functions.Add(new RegexReward(pattern));
                if (settings.Get(contains) is { } text) functions.Add(new ContainsReward(text));
                if (settings.Get(length) is { } bounds) functions.Add(ParseLength(bounds));
                if (settings.Get(command) is { } line) functions.Add(new CommandReward(line, TimeSpan.FromSeconds(settings.Get(commandTimeout))));
                if (functions.Count == 0)
                    throw new ArgumentException("No reward: pass --reward-model, --reward-exact-match, --reward-numeric, --reward-regex, --reward-contains, --reward-length or --reward-command.");
                var rewardWeights = settings.Get(weights) is { Length: > 0 } w ? w : null;
                var rewards = new RewardSet(functions, rewardWeights);

                int room = folder.Model.Config.ContextLength - config.MaxCompletionLength;
                if (room <= 0)
                    throw new ArgumentException($"--max-completion-length ({config.MaxCompletionLength}) leaves no room for a prompt in the model's context ({folder.Model.Config.ContextLength} tokens).");
                int longestLine = DataOptions.ResolveMaxLineLength(settings, maxLineLength);
                var prompts = ReadPrompts(console, data, folder.Tokenizer, promptTemplate, room, longestLine);
                var (train, eval) = training.Split(settings, prompts, arguments.Seed, path => ReadPrompts(console, path, folder.Tokenizer, promptTemplate, room, longestLine));
                rewards.CheckColumns(train.Concat(eval ?? []).Select(p => p.Row));

                ICausalLm? reference = null;
                if (config.Beta > 0)
                {
                    reference = adapters is not null && settings.Get(refModel) is null ? adapters.BaseModel : CausalLmRegistry.Load(settings.Get(refModel) ?? modelDir);
                    disposables.Add(reference);
                }
                int eos = folder.EosTokenId ?? throw new ArgumentException($"{modelDir} names no EOS token; {name} needs one to end completions.");
                var task = new GrpoTask(folder.Model, reference, folder.Tokenizer, rewards, config, eos, folder.PadTokenId, arguments.Seed,
                    directory => SftCommand.SaveExtras(folder, directory))
                {
                    Warn = message => TrainingRunner.Line(console, "warning: " + message),
                    StopTokenIds = folder.Generation.EosTokenIds,
                };
                disposables.Add(task);
                TrainingRunner.Line(console, string.Create(CultureInfo.InvariantCulture,
                    $"{name.ToUpperInvariant()}: {train.Count:N0} prompts, {config.PromptsPerGeneration} per step × {config.NumGenerations} completions, " +
                    $"micro-batch {config.PerDeviceTrainBatchSize}, {config.NumIterations} update(s) per step, β {config.Beta}; rewards: {string.Join(", ", functions.Select(f => f.Name))}."));
                return TrainingRunner.Run(console, name, settings, task, arguments, train, eval, hooks: new LoopHooks(task.State, task.Restore));
            }
            finally
            {
                for (int i = disposables.Count - 1; i >= 0; i--) disposables[i].Dispose();
            }
        }));
        return cmd;
    }

    private static LengthReward ParseLength(string bounds)
    {
        var parts = bounds.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int min) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int max))
            throw new ArgumentException($"--reward-length expects MIN:MAX characters, e.g. 10:200 (got '{bounds}').");
        return new LengthReward(min, max);
    }

    /// <summary>
    /// Prompts from JSONL rows (prompt / instruction / question; the row is kept for rule rewards) or plain text lines,
    /// rendered with the template; prompts that leave no room for the completion are counted and dropped.
    /// </summary>
    public static IReadOnlyList<GrpoExample> ReadPrompts(IAnsiConsole console, string path, BpeTokenizer tokenizer, PromptStyle style, int maxPromptTokens,
        int maxLineLength = DataRowReader.DefaultMaxLineLength)
    {
        var rows = PromptRows.Read(path, style.ChatTemplate, maxLineLength: maxLineLength);
        var prompts = new List<GrpoExample>();
        int tooLong = 0;
        foreach (var (text, rendered, row) in rows)
        {
            var ids = tokenizer.Encode(rendered ?? style.Render(text));
            if (ids.Length > maxPromptTokens) { tooLong++; continue; }
            prompts.Add(new GrpoExample(ids, text, row));
        }
        TrainingRunner.Line(console, $"{path}: {rows.Count:N0} prompts read, {prompts.Count:N0} kept" +
            (tooLong > 0 ? $", {tooLong} dropped as longer than {maxPromptTokens} tokens (context minus --max-completion-length)" : "") + ".");
        if (prompts.Count == 0) throw new ArgumentException($"No usable prompts in {path}.");
        return prompts;
    }
}
