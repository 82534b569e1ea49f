// `rlhf ppo`: RLHF with PPO — an SFT policy with a value head, a frozen reference, a reward model — with the textbook's
// PPOConfig as defaults (lr 1e-5, batch 16, mini-batch 8, gradient accumulation 2; sampling with top_k 0, top_p 1,
// i.e. from the full policy, and 20 new tokens).
using System.CommandLine;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Ppo;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class PpoCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "The SFT model folder (the policy starts here; also the reference unless --ref-model)." };
        var refModel = new Option<string?>("--ref-model") { Description = "Frozen reference model folder (default: --model; with LoRA, the policy with its adapters off)." };
        var rewardModel = new Option<string?>("--reward-model") { Description = "Reward model folder (rlhf reward output); its tokenizer may differ from the policy's." };
        var dataset = new Option<string?>("--dataset") { Description = "Prompts: JSONL with prompt/instruction/question (or hh-rlhf rows), or plain text lines." };
        var miniBatch = new Option<int>("--mini-batch-size") { Description = "Rollouts per forward/backward pass.", DefaultValueFactory = _ => 8 };
        var epochs = new Option<int>("--num-ppo-epochs") { Description = "Optimisation passes over each rollout batch.", DefaultValueFactory = _ => 4 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Response length limit when sampling.", DefaultValueFactory = _ => 20 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (log-probs and KL use the same).", DefaultValueFactory = _ => 1f };
        var initKl = new Option<double>("--init-kl-coef") { Description = "Initial KL coefficient β.", DefaultValueFactory = _ => 0.2 };
        var klControl = new Option<string>("--kl-control") { Description = "fixed, ziegler (adaptive, TRL's adap_kl_ctrl) or seed (the rule of the textbook's InstructGPT notes: β ×2 when KL > 1.5·target, ×½ when KL < target/1.5).", DefaultValueFactory = _ => "ziegler" };
        klControl.AcceptOnlyFromAmong("fixed", "ziegler", "seed");
        var target = new Option<double>("--target") { Description = "Target KL for the adaptive controllers.", DefaultValueFactory = _ => 6 };
        var horizon = new Option<double>("--horizon") { Description = "Horizon of Ziegler's controller.", DefaultValueFactory = _ => 10000 };
        var estimator = new Option<string>("--kl-estimator") { Description = "k1 (log π − log π_ref) or k3.", DefaultValueFactory = _ => "k1" };
        estimator.AcceptOnlyFromAmong("k1", "k3");
        var gamma = new Option<double>("--gamma") { Description = "Discount.", DefaultValueFactory = _ => 1 };
        var lam = new Option<double>("--lam") { Description = "GAE λ.", DefaultValueFactory = _ => 0.95 };
        var clip = new Option<double>("--cliprange") { Description = "Policy ratio clip ε.", DefaultValueFactory = _ => 0.2 };
        var clipValue = new Option<double>("--cliprange-value") { Description = "Value clip ε_v.", DefaultValueFactory = _ => 0.2 };
        var vfCoef = new Option<double>("--vf-coef") { Description = "Weight of the value loss.", DefaultValueFactory = _ => 0.1 };
        var whitenRewards = new Option<bool>("--whiten-rewards") { Description = "Whiten per-token rewards before GAE." };
        var maxLineLength = DataOptions.CreateMaxLineLength();
        var missingEos = new Option<float?>("--missing-eos-penalty") { Description = "Subtract this from the score of responses without EOS." };
        var promptOptions = new PromptOptions();
        var training = new TrainingOptions(PpoTrainer.DefaultArguments); // the textbook's PPOConfig
        var frozen = new FrozenReferenceOptions();
        var command = new Command("ppo", "Train a policy with PPO against a reward model, with a KL penalty to the reference.")
        {
            model, refModel, rewardModel, dataset, miniBatch, epochs, maxNewTokens, temperature, initKl, klControl, target,
            horizon, estimator, gamma, lam, clip, clipValue, vfCoef, whitenRewards, missingEos, maxLineLength,
        };
        promptOptions.AddTo(command);
        training.AddTo(command);
        frozen.AddTo(command);
        var lora = new LoraCliOptions();
        lora.AddTo(command, training: true);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, training.Config);
            string modelDir = InputFiles.RequireFolder(settings.Require(model), "--model");
            string rewardDir = InputFiles.RequireFolder(settings.Require(rewardModel), "--reward-model");
            string data = InputFiles.RequireFile(settings.Require(dataset), "--dataset");
            if (settings.Get(refModel) is { } givenReference) InputFiles.RequireFolder(givenReference, "--ref-model");
            var resolved = training.Resolve(settings);
            var frozenPrecision = frozen.Resolve(settings);
            lora.Resolve(settings, modelDir, resolved.Seed);
            lora.AdapterFolder(settings);
            var (config, arguments) = new PpoConfig
            {
                MiniBatchSize = settings.Get(miniBatch), NumPpoEpochs = settings.Get(epochs), MaxNewTokens = settings.Get(maxNewTokens), Temperature = settings.Get(temperature),
                InitKlCoef = settings.Get(initKl),
                KlControl = settings.Get(klControl) switch { "fixed" => KlControl.Fixed, "seed" => KlControl.Seed, _ => KlControl.Ziegler },
                Target = settings.Get(target), Horizon = settings.Get(horizon),
                KlEstimator = settings.Get(estimator) == "k3" ? KlEstimator.K3 : KlEstimator.K1,
                Gamma = settings.Get(gamma), Lambda = settings.Get(lam), ClipRange = settings.Get(clip), ClipRangeValue = settings.Get(clipValue),
                VfCoef = settings.Get(vfCoef), WhitenRewards = settings.Get(whitenRewards), MissingEosPenalty = settings.Get(missingEos),
            }.Bind(resolved);
            config.Validate();

            var tokenizer = BpeTokenizer.FromFolder(modelDir);
            string generationPath = Path.Combine(modelDir, GenerationConfig.FileName);
            var generation = File.Exists(generationPath) ? GenerationConfig.Load(generationPath) : null;
            var promptTemplate = promptOptions.Resolve(settings, modelDir);
            using var policy = PolicyWithValueHead.Load(modelDir, arguments.Seed);
            policy.Model.GradientCheckpointing = arguments.GradientCheckpointing;
            var adapters = lora.Apply(console, settings, policy.Model, modelDir, arguments.Seed); // the value head stays fully trained
            FrozenReferenceOptions.PackBase(frozenPrecision, policy.Model, adapters);
            int room = policy.Model.Config.ContextLength - config.MaxNewTokens;
            var queryOptions = QueryOptions(tokenizer, promptTemplate.Template, policy.Model.Config.ContextLength, config.MaxNewTokens)
                with { MaxLineLength = DataOptions.ResolveMaxLineLength(settings, maxLineLength) };
            var prompts = ReadPrompts(console, data, tokenizer, promptTemplate, room, queryOptions);
            var (train, eval) = training.Split(settings, prompts, arguments.Seed, path => ReadPrompts(console, path, tokenizer, promptTemplate, room, queryOptions));

            var (reference, referenceWeights) = FrozenReferenceOptions.Load(frozenPrecision, policy.Model, adapters, modelDir, settings.Get(refModel));
            using var referenceModel = reference;
            using var referencePacked = referenceWeights;
            using var reward = LoadRewardModel(rewardDir);
            using var scorer = new RewardModelScorer(reward, BpeTokenizer.FromFolder(rewardDir), tokenizer);
            var folder = new ModelFolder(policy.Model, tokenizer, generation);
            int eos = folder.EosTokenId ?? throw new ArgumentException($"{modelDir} names no EOS token; PPO needs one to end responses.");
            using var task = new PpoTask(policy, reference, scorer, config, eos, folder.PadTokenId, arguments.Seed,
                directory => SftCommand.SaveExtras(folder, directory))
            {
                ReferenceWeights = referenceWeights,
                StopTokenIds = folder.Generation.EosTokenIds,
            };
            TrainingRunner.Line(console, $"PPO: {train.Count:N0} prompts, rollout batch {config.BatchSize}, mini-batch {config.MiniBatchSize}, " +
                $"{config.GradientAccumulationSteps} mini-batches per update, {config.NumPpoEpochs} PPO epochs, β₀ {config.InitKlCoef} ({config.KlControl}).");
            return TrainingRunner.Run(console, "ppo", settings, task, arguments, train, eval,
                hooks: new LoopHooks(task.State, task.Restore, "lr"));
        }));
        return command;
    }

    private static RewardModel LoadRewardModel(string directory)
    {
        try
        {
            return RewardModel.Load(directory);
        }
        catch (Exception error) when (error is IOException or ModelFormatException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"The reward model at {directory} cannot be loaded: {error.Message}", error);
        }
    }

    /// <summary>
    /// The textbook's PPO data steps for hh-rlhf files (its reward data, whole texts ≤ 512 tokens, then the query), with
    /// queries that leave no room for <paramref name="maxNewTokens"/> in the context dropped; `rlhf data inspect --task ppo`
    /// reports the same rows.
    /// </summary>
    public static DataPipelineOptions QueryOptions(BpeTokenizer tokenizer, PromptTemplate template, int contextLength, int maxNewTokens) => new()
    {
        Task = DataTask.Ppo, Template = template, Encoder = new DelegateTextEncoder(text => tokenizer.Encode(text)),
        Eos = tokenizer.EosToken ?? "<|endoftext|>", EosTokenId = tokenizer.EosTokenId,
        MaxLength = Math.Min(512, contextLength), MaxPromptLength = Math.Min(256, contextLength),
        MaxQueryLength = Math.Max(1, contextLength - maxNewTokens),
    };

    /// <summary>
    /// Prompts from hh-rlhf rows (the textbook's steps, <see cref="PpoQueries"/>), or from plain lines or JSONL rows
    /// (prompt / instruction / question) rendered with the template; prompts that leave no room for the response are
    /// counted and dropped.
    /// </summary>
    public static IReadOnlyList<int[]> ReadPrompts(IAnsiConsole console, string path, BpeTokenizer tokenizer, PromptStyle style, int maxPromptTokens,
        DataPipelineOptions queryOptions)
    {
        if (PromptRows.IsHhRlhf(path))
        {
            var queries = PpoQueries.Run(path, queryOptions);
            TrainingRunner.Line(console, queries.Report.ToString().TrimEnd());
            if (queries.Examples.Count == 0) throw new ArgumentException($"No usable prompts in {path} (see the report above).");
            return queries.Examples.Select(q => tokenizer.Encode(q)).ToArray();
        }
        var texts = PromptRows.Read(path, style.ChatTemplate, hhChosen: true, maxLineLength: queryOptions.MaxLineLength);
        var prompts = new List<int[]>();
        int tooLong = 0, empty = 0;
        foreach (var (text, rendered, _) in texts)
        {
            if (string.IsNullOrWhiteSpace(text)) { empty++; continue; }
            var ids = tokenizer.Encode(rendered ?? style.Render(text));
            if (ids.Length > maxPromptTokens) { tooLong++; continue; }
            prompts.Add(ids);
        }
        TrainingRunner.Line(console, $"{path}: {texts.Count:N0} prompts read, {prompts.Count:N0} kept" +
            (tooLong > 0 ? $", {tooLong} dropped as longer than {maxPromptTokens} tokens (context minus --max-new-tokens)" : "") +
            (empty > 0 ? $", {empty} empty" : "") + ".");
        if (prompts.Count == 0) throw new ArgumentException($"No usable prompts in {path}.");
        return prompts;
    }
}
