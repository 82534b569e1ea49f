// Direct Preference Optimization from C#, as `rlhf dpo` runs it (Rafailov et al. 2023; TRL's DPOTrainer).
using Rlhf.Data;
using Rlhf.Training;
using Rlhf.Training.Dpo;

namespace Rlhf;

/// <summary>
/// Trains a policy with DPO on preference pairs: −log σ(β[(log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) −
/// log π_ref(y_l|x))]) and the variants of <see cref="DpoLossType"/>. The policy is updated in place; the trained model
/// is also written to <see cref="TrainingArguments.OutputDir"/> (with checkpoints and metrics.jsonl, as the CLI writes).
/// </summary>
public sealed class DpoTrainer
{
    private readonly LanguageModel policy;
    private readonly LanguageModel? reference;

    /// <param name="policy">The model to train (usually an SFT model).</param>
    /// <param name="arguments">Loop settings (batch size, learning rate, steps, output folder …).</param>
    /// <param name="config">DPO settings; null: <see cref="DpoConfig"/>'s defaults (β 0.1, sigmoid loss).</param>
    /// <param name="reference">The frozen reference; null: the policy's weights as they are before training (their
    /// log-probs are computed once, before the first step), or with LoRA the policy's base with its adapters off (TRL
    /// with a PEFT model: no second copy). Not disposed by the trainer.</param>
    /// <param name="peftConfig">LoRA adapters to add to <paramref name="policy"/> now and train instead of its weights
    /// (TRL's <c>peft_config</c>); the output folder is then a PEFT adapter folder. Null: train what the policy trains.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/> or <paramref name="arguments"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it and its range).</exception>
    /// <exception cref="ArgumentException">A LoRA target module matches no layer of the policy (the message lists its linear modules).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="peftConfig"/> is given but the policy has adapters already.</exception>
    /// <exception cref="ObjectDisposedException">A model is disposed.</exception>
    public DpoTrainer(LanguageModel policy, TrainingArguments arguments, DpoConfig? config = null, LanguageModel? reference = null, LoraConfig? peftConfig = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        TrainerRun.Check(arguments);
        config ??= new DpoConfig();
        ApiChecks.Valid(config.Validate, nameof(config));
        TrainerRun.CheckReference(policy, reference);
        if (peftConfig is not null) policy.AttachAdapters(peftConfig, arguments.Seed, nameof(peftConfig));
        this.policy = policy;
        this.reference = reference;
        Arguments = arguments;
        Config = config;
    }

    /// <summary>The loop settings given to the constructor.</summary>
    public TrainingArguments Arguments { get; }

    /// <summary>The DPO settings in use.</summary>
    public DpoConfig Config { get; }

    /// <summary>Raised on the training thread after every optimizer step ("step", "log") and at "eval" and "save" events.</summary>
    public event EventHandler<TrainingProgress>? Progress;

    /// <summary>Runs DPO over <paramref name="train"/> (prompt, chosen and rejected tokenised apart and truncated as TRL does).</summary>
    /// <param name="train">The preference pairs to learn from (at least one).</param>
    /// <param name="eval">Held-out pairs for eval_* metrics (rewards/accuracies …); null: none.</param>
    /// <param name="cancellation">Stops after the current step, saving a checkpoint to resume from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> or one of its pairs is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="train"/> is empty.</exception>
    /// <exception cref="ObjectDisposedException">The policy or the reference is disposed.</exception>
    public TrainingResult Train(IReadOnlyList<PreferenceExample> train, IReadOnlyList<PreferenceExample>? eval = null, CancellationToken cancellation = default)
    {
        ApiChecks.NotEmpty(train, nameof(train));
        if (eval is not null) ApiChecks.NotEmpty(eval, nameof(eval));
        var folder = policy.Folder;
        IReadOnlyList<DpoExample> trainSet = Tokenize(train);
        IReadOnlyList<DpoExample>? evalSet = eval is null ? null : Tokenize(eval);
        folder.Model.GradientCheckpointing = Arguments.GradientCheckpointing;
        // With LoRA and no reference given, the reference is the base with the adapters off, run live as `rlhf dpo --use-peft` runs it.
        var referenceModel = reference?.Folder.Model ?? folder.Model.Adapters?.BaseModel;
        bool live = referenceModel is not null && !Config.PrecomputeRefLogProbs && !Config.ReferenceFree;
        if (!Config.ReferenceFree && !live)
        {
            // The reference's log-probs, once, before the policy changes (TRL's precompute_ref_log_probs).
            using var scorer = new DpoTask(folder.Model, referenceModel ?? folder.Model, Config, folder.PadTokenId, ownsReference: false);
            trainSet = scorer.PrecomputeReferenceLogProbs(trainSet, Arguments.PerDeviceEvalBatchSize);
            if (evalSet is not null) evalSet = scorer.PrecomputeReferenceLogProbs(evalSet, Arguments.PerDeviceEvalBatchSize);
        }
        using var task = new DpoTask(folder.Model, live ? referenceModel : null, Config, folder.PadTokenId, folder.SaveTokenizerAndConfigs, ownsReference: false);
        return TrainerRun.Run(task, Arguments, trainSet, evalSet, this, Progress, cancellation);
    }

    private DpoExample[] Tokenize(IReadOnlyList<PreferenceExample> pairs)
    {
        var folder = policy.Folder;
        var encoder = new DelegateTextEncoder(policy.Encode);
        int[] Response(string text) => TokenSequences.Response(encoder, text, TrainerRun.EosAppended, folder.EosTokenId);
        return pairs.Select(p => new DpoExample(policy.Encode(p.Prompt), Response(p.Chosen), Response(p.Rejected))
            .Truncate(Config.MaxLength, Config.MaxPromptLength)).ToArray();
    }
}
