// Reward-model training from C#, as `rlhf reward` runs it (TRL's RewardTrainer; InstructGPT's pairwise loss).
using Rlhf.Training;
using Rlhf.Training.Reward;

namespace Rlhf;

/// <summary>
/// Trains a <see cref="RewardScorer"/> on preference pairs so chosen responses score above rejected ones
/// (−log σ(r_chosen − r_rejected) by default; see <see cref="RewardLossType"/>). The scorer is updated in place and
/// also written to <see cref="TrainingArguments.OutputDir"/>.
/// </summary>
public sealed class RewardTrainer
{
    private readonly RewardScorer model;

    /// <param name="model">The reward model to train (e.g. from <see cref="RewardScorer.FromLanguageModel"/>).</param>
    /// <param name="arguments">Loop settings (batch size, learning rate, steps, output folder …).</param>
    /// <param name="config">Loss settings; null: pairwise loss, no centering.</param>
    /// <param name="peftConfig">LoRA adapters to add to the backbone now and train instead of its weights, the score head
    /// trained fully (TRL's <c>peft_config</c>; PEFT's modules_to_save); the output folder is then a PEFT adapter folder.
    /// Null: train what the model trains.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="arguments"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it and its range).</exception>
    /// <exception cref="ArgumentException">A LoRA target module matches no layer of the model (the message lists its linear modules).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="peftConfig"/> is given but the model has adapters already.</exception>
    /// <exception cref="ObjectDisposedException">The model is disposed.</exception>
    public RewardTrainer(RewardScorer model, TrainingArguments arguments, RewardConfig? config = null, LoraConfig? peftConfig = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        TrainerRun.Check(arguments);
        config ??= new RewardConfig();
        ApiChecks.Valid(config.Validate, nameof(config));
        var backbone = model.Model.Model;
        if (peftConfig is not null) ApiLora.Attach(backbone, peftConfig, arguments.Seed, model.SourceFolder, nameof(peftConfig));
        this.model = model;
        Arguments = arguments;
        Config = config;
    }

    /// <summary>The loop settings given to the constructor.</summary>
    public TrainingArguments Arguments { get; }

    /// <summary>The loss settings in use.</summary>
    public RewardConfig Config { get; }

    /// <summary>Raised on the training thread after every optimizer step ("step", "log") and at "eval" and "save" events.</summary>
    public event EventHandler<TrainingProgress>? Progress;

    /// <summary>Trains on <paramref name="train"/>; eval_accuracy is the share of held-out pairs ranked right.</summary>
    /// <param name="train">The preference pairs (at least one).</param>
    /// <param name="eval">Held-out pairs; null: none.</param>
    /// <param name="cancellation">Stops after the current step, saving a checkpoint to resume from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> or one of its pairs is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="train"/> is empty.</exception>
    /// <exception cref="ObjectDisposedException">The model is disposed.</exception>
    public TrainingResult Train(IReadOnlyList<PreferenceExample> train, IReadOnlyList<PreferenceExample>? eval = null, CancellationToken cancellation = default)
    {
        ApiChecks.NotEmpty(train, nameof(train));
        if (eval is not null) ApiChecks.NotEmpty(eval, nameof(eval));
        model.Model.Model.GradientCheckpointing = Arguments.GradientCheckpointing;
        using var task = new RewardTask(model.Model, Config, model.PadTokenId, model.Tokenizer.Save);
        return TrainerRun.Run(task, Arguments, Tokenize(train), eval is null ? null : Tokenize(eval), this, Progress, cancellation);
    }

    private RewardExample[] Tokenize(IReadOnlyList<PreferenceExample> pairs) =>
        pairs.Select(p => new RewardExample([model.Sequence(p.Prompt, p.Chosen), model.Sequence(p.Prompt, p.Rejected)])).ToArray();
}
