// Critic-free RL from C#, as `rlhf grpo` and `rlhf rloo` run it (Shao et al. 2024, TRL's GRPOTrainer; Ahmadian et al.
// 2024, TRL's RLOOTrainer): the same GrpoTask on the same loop, with the reward a C# function or a reward model.
using Rlhf.Models;
using Rlhf.Training;
using Rlhf.Training.Grpo;
using Rlhf.Training.Ppo;

namespace Rlhf;

/// <summary>
/// Trains a policy with GRPO (or RLOO, <see cref="GrpoConfig.Rloo"/>): each prompt is sampled
/// <see cref="GrpoConfig.NumGenerations"/> times, the completions are rewarded, and each is pushed up or down by its
/// advantage over its group (GRPO: (r − mean) / std; RLOO: r − the mean of the others) with a clipped importance ratio;
/// no value model. The reward is a C# function of (prompt, completion), the verifiable-reward case, or a reward model.
/// The policy is updated in place and also written to <see cref="TrainingArguments.OutputDir"/>. Log events carry TRL's
/// metrics: reward, reward_std, rewards/NAME/mean, loss, kl (β &gt; 0), completions/mean_length …
/// </summary>
public sealed class GrpoTrainer
{
    private readonly LanguageModel policy;
    private readonly LanguageModel? reference;
    private readonly Func<LanguageModel, (ICompletionReward Reward, IDisposable? Owned)> rewardFor;
    private readonly GrpoConfig bound;
    private readonly TrainingArguments loopArguments;

    /// <summary>
    /// <c>rlhf grpo</c>'s (and <c>rlhf rloo</c>'s) loop defaults, TRL's: 8 completions per micro-batch
    /// (per_device_train_batch_size), lr 1e-6 linear, one epoch, a log every step, and no loss-ratio divergence check (the
    /// surrogate loss starts near 0, so a ratio to it means nothing). Set <see cref="TrainingArguments.OutputDir"/> with <c>with</c>.
    /// </summary>
    public static TrainingArguments DefaultArguments { get; } = new()
    {
        PerDeviceTrainBatchSize = GrpoConfig.Grpo.PerDeviceTrainBatchSize, PerDeviceEvalBatchSize = 16, GradientAccumulationSteps = 1, LearningRate = 1e-6f,
        NumTrainEpochs = 1, LoggingSteps = 1, SaveSteps = 100, LrSchedulerType = "linear", DivergenceLossRatio = 0,
    };

    /// <summary>GRPO with a reward computed in C#: (prompt as given, decoded completion) → score, NaN where it cannot score.</summary>
    /// <param name="policy">The model to train (usually an SFT model); it needs an EOS token to end completions.</param>
    /// <param name="reward">The reward function (logged as rewards/reward/mean). It is called on the training thread.</param>
    /// <param name="arguments">Loop settings: per_device_train_batch_size counts completions per micro-batch and
    /// gradient_accumulation_steps micro-batches per generation batch (as in <c>rlhf grpo</c>; see <see cref="DefaultArguments"/>).</param>
    /// <param name="config">GRPO or RLOO settings; null: <see cref="GrpoConfig.Grpo"/>.</param>
    /// <param name="reference">The frozen reference for β &gt; 0; null: the policy's weights before training (with LoRA, its base with the adapters off). Not disposed by the trainer.</param>
    /// <param name="peftConfig">LoRA adapters to add to <paramref name="policy"/> now and train instead of its weights (TRL's <c>peft_config</c>); null: train what the policy trains.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/>, <paramref name="reward"/> or <paramref name="arguments"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it and its range).</exception>
    /// <exception cref="ArgumentException">The policy has no EOS token, the reference's vocabulary differs from the policy's, or a LoRA target module matches no layer.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="peftConfig"/> is given but the policy has adapters already.</exception>
    /// <exception cref="ObjectDisposedException">A model is disposed.</exception>
    public GrpoTrainer(LanguageModel policy, Func<string, string, double> reward, TrainingArguments arguments, GrpoConfig? config = null, LanguageModel? reference = null,
        LoraConfig? peftConfig = null)
        : this(policy, arguments, config, reference, FromFunction(reward), peftConfig)
    {
    }

    /// <summary>GRPO with a learned reward: the reward model's score of (prompt, completion), as <c>rlhf grpo --reward-model</c>.</summary>
    /// <param name="policy">The model to train (usually an SFT model); it needs an EOS token to end completions.</param>
    /// <param name="rewardModel">The reward model (logged as rewards/reward_model/mean); its tokenizer may differ from the policy's. Not disposed by the trainer.</param>
    /// <param name="arguments">Loop settings, as for the other constructor.</param>
    /// <param name="config">GRPO or RLOO settings; null: <see cref="GrpoConfig.Grpo"/>.</param>
    /// <param name="reference">The frozen reference for β &gt; 0; null: the policy's weights before training (with LoRA, its base with the adapters off). Not disposed by the trainer.</param>
    /// <param name="peftConfig">LoRA adapters to add to <paramref name="policy"/> now and train instead of its weights (TRL's <c>peft_config</c>); null: train what the policy trains.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/>, <paramref name="rewardModel"/> or <paramref name="arguments"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it and its range).</exception>
    /// <exception cref="ArgumentException">The policy has no EOS token, the reference's vocabulary differs from the policy's, or a LoRA target module matches no layer.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="peftConfig"/> is given but the policy has adapters already.</exception>
    /// <exception cref="ObjectDisposedException">A model is disposed.</exception>
    public GrpoTrainer(LanguageModel policy, RewardScorer rewardModel, TrainingArguments arguments, GrpoConfig? config = null, LanguageModel? reference = null,
        LoraConfig? peftConfig = null)
        : this(policy, arguments, config, reference, FromModel(rewardModel), peftConfig)
    {
    }

    private GrpoTrainer(LanguageModel policy, TrainingArguments arguments, GrpoConfig? config, LanguageModel? reference, Func<LanguageModel, (ICompletionReward, IDisposable?)> rewardFor,
        LoraConfig? peftConfig)
    {
        ArgumentNullException.ThrowIfNull(policy);
        TrainerRun.Check(arguments);
        Config = config ?? GrpoConfig.Grpo;
        (bound, loopArguments) = Config.Bind(arguments);
        ApiChecks.Valid(bound.Validate, nameof(config));
        ApiChecks.InRange(Config.MaxCompletionLength, 1, policy.ContextLength - 1, $"{nameof(config)}.{nameof(GrpoConfig.MaxCompletionLength)}");
        TrainerRun.RequireEos(policy, Config.Estimator == GroupEstimator.LeaveOneOut ? "RLOO" : "GRPO");
        TrainerRun.CheckReference(policy, reference);
        if (peftConfig is not null) policy.AttachAdapters(peftConfig, loopArguments.Seed, nameof(peftConfig));
        this.policy = policy;
        this.reference = reference;
        this.rewardFor = rewardFor;
        Arguments = arguments;
    }

    /// <summary>The C# function as GRPO's one reward function (TRL's reward_funcs=[f]).</summary>
    private static Func<LanguageModel, (ICompletionReward, IDisposable?)> FromFunction(Func<string, string, double> reward)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return _ => (new DelegateCompletionReward("reward", (prompt, completion, _) => reward(prompt, completion)), null);
    }

    /// <summary>The reward model scoring the policy's decoded texts with its own tokenizer, as <c>rlhf grpo --reward-model</c>.</summary>
    private static Func<LanguageModel, (ICompletionReward, IDisposable?)> FromModel(RewardScorer rewardModel)
    {
        ArgumentNullException.ThrowIfNull(rewardModel);
        _ = rewardModel.Model;
        return policy =>
        {
            var scorer = new RewardModelScorer(rewardModel.Model, rewardModel.Tokenizer, policy.Folder.Tokenizer);
            return (new ModelReward(scorer), scorer);
        };
    }

    /// <summary>The loop settings given to the constructor.</summary>
    public TrainingArguments Arguments { get; }

    /// <summary>The GRPO or RLOO settings in use.</summary>
    public GrpoConfig Config { get; }

    /// <summary>Raised on the training thread after every generation batch's updates ("step", "log") and at "eval" and "save" events.</summary>
    public event EventHandler<TrainingProgress>? Progress;

    /// <summary>
    /// Runs GRPO over <paramref name="prompts"/> (used as given, e.g. from <see cref="Datasets.ReadPrompts"/>; the reward
    /// function receives them so); prompts that leave no room for <see cref="GrpoConfig.MaxCompletionLength"/> are left out.
    /// </summary>
    /// <param name="prompts">The prompts (at least one that fits).</param>
    /// <param name="eval">Held-out prompts: eval_reward of one sampled completion each; null: none.</param>
    /// <param name="cancellation">Stops after the current generation batch, saving a checkpoint to resume from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="prompts"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="prompts"/> is empty, or no prompt fits the context.</exception>
    /// <exception cref="ObjectDisposedException">A model is disposed.</exception>
    public TrainingResult Train(IReadOnlyList<string> prompts, IReadOnlyList<string>? eval = null, CancellationToken cancellation = default)
    {
        var trainSet = Examples(prompts, nameof(prompts));
        var evalSet = eval is null ? null : Examples(eval, nameof(eval));
        var folder = policy.Folder;
        folder.Model.GradientCheckpointing = loopArguments.GradientCheckpointing;
        var (reward, owned) = rewardFor(policy);
        using var rewardResources = owned;
        // With LoRA and no reference given, the reference is the base with the adapters off (no copy), as `rlhf grpo --use-peft`.
        var baseReference = reference is null ? folder.Model.Adapters?.BaseModel : null;
        using var ownReference = bound.Beta > 0 && reference is null && baseReference is null ? WeightCopy.Clone(folder.Model) : null;
        using var task = new GrpoTask(folder.Model, bound.Beta > 0 ? ownReference ?? baseReference ?? reference!.Folder.Model : null, folder.Tokenizer,
            new RewardSet([reward]), bound, folder.EosTokenId!.Value, folder.PadTokenId, loopArguments.Seed, folder.SaveTokenizerAndConfigs)
        {
            StopTokenIds = folder.Generation.EosTokenIds,
        };
        return TrainerRun.Run(task, loopArguments, trainSet, evalSet, this, Progress, cancellation, new LoopHooks(task.State, task.Restore));
    }

    private GrpoExample[] Examples(IReadOnlyList<string> prompts, string name)
    {
        return TrainerRun.PromptIds(policy, prompts, Config.MaxCompletionLength, name).Select(p => new GrpoExample(p.Ids, p.Text, null)).ToArray();
    }
}
