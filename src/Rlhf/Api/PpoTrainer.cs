// RLHF with PPO from C#, as `rlhf ppo` runs it (Ouyang et al. 2022; Ziegler et al. 2019; TRL's PPOTrainer): the same
// PpoTask on the same loop, with the policy, reference and reward model given in memory instead of as folders.
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Training;
using Rlhf.Training.Ppo;

namespace Rlhf;

/// <summary>
/// Trains a policy with PPO against a reward model: responses are sampled for each rollout batch of prompts, scored,
/// penalised per token by β·KL to the frozen reference, and learned from with clipped policy and value losses over
/// GAE advantages. A value head (saved beside the policy as value_head.safetensors) is trained with it. The policy is
/// updated in place; the trained model is also written to <see cref="TrainingArguments.OutputDir"/> (with checkpoints
/// and metrics.jsonl, as the CLI writes). Log events carry TRL's metrics: objective/scores, objective/kl,
/// objective/rlhf_reward, loss/policy_avg, loss/value_avg, kl_coef …
/// </summary>
public sealed class PpoTrainer
{
    private readonly LanguageModel policy;
    private readonly RewardScorer rewardModel;
    private readonly LanguageModel? reference;
    private readonly PpoConfig bound;
    private readonly TrainingArguments loopArguments;
    private readonly BaseDtype baseDtype;

    /// <summary>
    /// <c>rlhf ppo</c>'s loop defaults (the textbook's PPOConfig): rollout batch 16 (per_device_train_batch_size), 2
    /// mini-batches per update (gradient_accumulation_steps), lr 1e-5 constant, 3 epochs over the prompts, a log every step.
    /// Set <see cref="TrainingArguments.OutputDir"/> with <c>with</c>.
    /// </summary>
    public static TrainingArguments DefaultArguments { get; } = new()
    {
        PerDeviceTrainBatchSize = 16, PerDeviceEvalBatchSize = 16, GradientAccumulationSteps = 2, LearningRate = 1e-5f, NumTrainEpochs = 3,
        LoggingSteps = 1, SaveSteps = 100, LrSchedulerType = "constant",
    };

    /// <param name="policy">The model to train (usually an SFT model); it needs an EOS token to end responses.</param>
    /// <param name="rewardModel">Scores each (prompt, response); its tokenizer may differ from the policy's. Not disposed by the trainer.</param>
    /// <param name="arguments">Loop settings: per_device_train_batch_size is the rollout batch, gradient_accumulation_steps
    /// the mini-batches per optimizer update (as in <c>rlhf ppo</c>; see <see cref="DefaultArguments"/>).</param>
    /// <param name="config">PPO settings; null: <see cref="PpoConfig"/>'s defaults (β₀ 0.2 adaptive, 4 PPO epochs, 20 new tokens).</param>
    /// <param name="reference">The frozen reference; null: the policy's weights as they are before training (with LoRA, its base with the adapters off). Not disposed by the trainer.</param>
    /// <param name="peftConfig">LoRA adapters to add to <paramref name="policy"/> now and train instead of its weights (TRL's <c>peft_config</c>;
    /// the value head is trained fully). PPO trains a copy of the policy with the value head, whose base
    /// <see cref="LoraConfig.BaseDtype"/> packs; the policy's own base stays float32. Null: train what the policy trains.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/>, <paramref name="rewardModel"/> or <paramref name="arguments"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it and its range).</exception>
    /// <exception cref="ArgumentException">The policy has no EOS token, the reference's vocabulary differs from the policy's, a LoRA target
    /// module matches no layer, or the policy's adapters sit on a bfloat16 base (PPO copies the policy: load its base in float32).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="peftConfig"/> is given but the policy has adapters already.</exception>
    /// <exception cref="ObjectDisposedException">A model is disposed.</exception>
    public PpoTrainer(LanguageModel policy, RewardScorer rewardModel, TrainingArguments arguments, PpoConfig? config = null, LanguageModel? reference = null,
        LoraConfig? peftConfig = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(rewardModel);
        TrainerRun.Check(arguments);
        Config = config ?? new PpoConfig();
        (bound, loopArguments) = Config.Bind(arguments);
        ApiChecks.Valid(bound.Validate, nameof(config));
        ApiChecks.InRange(Config.MaxNewTokens, 1, policy.ContextLength - 1, $"{nameof(config)}.{nameof(PpoConfig.MaxNewTokens)}");
        _ = rewardModel.Model;
        TrainerRun.RequireEos(policy, "PPO");
        TrainerRun.CheckReference(policy, reference);
        if (policy.Folder.Model.FrozenBaseWeights is not null)
            throw new ArgumentException("The policy's base is held in bfloat16, but PPO copies the policy into a model with a value head: load it with " +
                "BaseDtype.Float32 and give the trainer a LoraConfig with BaseDtype.BFloat16 for its copy, or use GRPO.", nameof(policy));
        if (peftConfig is not null) policy.AttachAdapters(peftConfig, loopArguments.Seed, nameof(peftConfig), packBase: false);
        baseDtype = peftConfig?.BaseDtype ?? BaseDtype.Float32;
        this.policy = policy;
        this.rewardModel = rewardModel;
        this.reference = reference;
        Arguments = arguments;
    }

    /// <summary>The loop settings given to the constructor.</summary>
    public TrainingArguments Arguments { get; }

    /// <summary>The PPO settings in use.</summary>
    public PpoConfig Config { get; }

    /// <summary>Raised on the training thread after every rollout's updates ("step", "log") and at "eval" and "save" events.</summary>
    public event EventHandler<TrainingProgress>? Progress;

    /// <summary>
    /// Runs PPO over <paramref name="prompts"/> (used as given, e.g. from <see cref="Datasets.ReadPrompts"/>); prompts
    /// that leave no room for <see cref="PpoConfig.MaxNewTokens"/> in the context are left out. Each call starts a
    /// fresh value head (seeded); the one trained is saved beside the policy in the output folder.
    /// </summary>
    /// <param name="prompts">The prompts to roll out (at least one that fits).</param>
    /// <param name="eval">Held-out prompts: eval_objective/scores and eval_objective/kl of sampled responses; null: none.</param>
    /// <param name="cancellation">Stops after the current rollout, saving a checkpoint to resume from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="prompts"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="prompts"/> is empty, or no prompt fits the context.</exception>
    /// <exception cref="ObjectDisposedException">A model is disposed.</exception>
    public TrainingResult Train(IReadOnlyList<string> prompts, IReadOnlyList<string>? eval = null, CancellationToken cancellation = default)
    {
        var trainSet = TrainerRun.PromptIds(policy, prompts, Config.MaxNewTokens, nameof(prompts)).Select(p => p.Ids).ToArray();
        var evalSet = eval is null ? null : TrainerRun.PromptIds(policy, eval, Config.MaxNewTokens, nameof(eval)).Select(p => p.Ids).ToArray();
        var folder = policy.Folder;
        using var value = PolicyWithValueHead.FromModel(folder.Model, loopArguments.Seed); // a fresh value head from the seed, as rlhf ppo starts one
        value.Model.GradientCheckpointing = loopArguments.GradientCheckpointing;
        var adapters = folder.Model.Adapters is { } policyAdapters ? CopyAdapters(policyAdapters, value.Model) : null;
        LoraSetup.PackBase(value.Model, adapters, baseDtype.ToPrecision());
        // With LoRA and no reference given, the reference is the copy's base with the adapters off, as `rlhf ppo --use-peft`.
        var baseReference = reference is null ? adapters?.BaseModel : null;
        using var ownReference = reference is null && baseReference is null ? WeightCopy.Clone(folder.Model) : null;
        using var scorer = new RewardModelScorer(rewardModel.Model, rewardModel.Tokenizer, folder.Tokenizer);
        using var task = new PpoTask(value, ownReference ?? baseReference ?? reference!.Folder.Model, scorer, bound, folder.EosTokenId!.Value, folder.PadTokenId,
            loopArguments.Seed, folder.SaveTokenizerAndConfigs)
        {
            StopTokenIds = folder.Generation.EosTokenIds,
        };
        var result = TrainerRun.Run(task, loopArguments, trainSet, evalSet, this, Progress, cancellation, new LoopHooks(task.State, task.Restore, "lr"));
        // The trained policy (also when interrupted) into the model given; a failed run leaves it as it was.
        if (adapters is null) WeightCopy.Into(value.Model, folder.Model);
        else CopyAdapterWeights(adapters, folder.Model.Adapters!);
        return result;
    }

    /// <summary>The policy's adapters on the value model: the same settings, weights and dropout draws.</summary>
    private static LoraAdapters CopyAdapters(LoraAdapters source, ICausalLm target)
    {
        var copy = LoraAdapters.Attach(target, source.Options);
        CopyAdapterWeights(source, copy);
        return copy;
    }

    private static void CopyAdapterWeights(LoraAdapters source, LoraAdapters target)
    {
        var from = source.AdapterParameters.ToArray();
        var to = target.AdapterParameters.ToArray();
        if (from.Length != to.Length) throw new InvalidOperationException("The policy's and its copy's adapters differ.");
        for (int i = 0; i < from.Length; i++)
        {
            if (from[i].Name != to[i].Name) throw new InvalidOperationException($"The copy's adapter '{to[i].Name}' is not the policy's '{from[i].Name}'.");
            from[i].Value.Span.CopyTo(to[i].Value.Span);
        }
        target.DropoutDraws = source.DropoutDraws;
    }
}
