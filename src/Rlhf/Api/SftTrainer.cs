// Supervised fine-tuning from C#, as `rlhf sft` runs it: next-token cross-entropy on the response tokens only.
using Rlhf.Data;
using Rlhf.Training;
using Rlhf.Training.Sft;

namespace Rlhf;

/// <summary>
/// Fine-tunes a model on demonstrations (TRL's SFTTrainer with completion-only loss): the mean cross-entropy of the
/// response tokens given the prompt. The model is updated in place and also written to
/// <see cref="TrainingArguments.OutputDir"/> (with checkpoints and metrics.jsonl).
/// </summary>
public sealed class SftTrainer
{
    private readonly LanguageModel model;

    /// <param name="model">The model to fine-tune.</param>
    /// <param name="arguments">Loop settings (batch size, learning rate, steps, output folder, gradient checkpointing …).</param>
    /// <param name="peftConfig">LoRA adapters to add to <paramref name="model"/> now and train instead of its weights (TRL's
    /// <c>peft_config</c>; the CLI's <c>--use-peft</c>); the output folder is then a PEFT adapter folder. Null: train what
    /// the model trains (every weight, or the adapters it already has).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it and its range).</exception>
    /// <exception cref="ArgumentException">A LoRA target module matches no layer of the model (the message lists its linear modules).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="peftConfig"/> is given but the model has adapters already.</exception>
    /// <exception cref="ObjectDisposedException">The model is disposed.</exception>
    public SftTrainer(LanguageModel model, TrainingArguments arguments, LoraConfig? peftConfig = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        TrainerRun.Check(arguments);
        _ = model.Folder;
        if (peftConfig is not null) model.AttachAdapters(peftConfig, arguments.Seed, nameof(peftConfig));
        this.model = model;
        Arguments = arguments;
    }

    /// <summary>The loop settings given to the constructor.</summary>
    public TrainingArguments Arguments { get; }

    /// <summary>Raised on the training thread after every optimizer step ("step", "log") and at "eval" and "save" events.</summary>
    public event EventHandler<TrainingProgress>? Progress;

    /// <summary>Runs SFT over <paramref name="train"/>; examples longer than the model's context are dropped.</summary>
    /// <param name="train">The demonstrations (at least one that fits the context).</param>
    /// <param name="eval">Held-out demonstrations for eval_loss; null: none.</param>
    /// <param name="cancellation">Stops after the current step, saving a checkpoint to resume from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> or one of its examples is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="train"/> is empty, or no example fits the context.</exception>
    /// <exception cref="ObjectDisposedException">The model is disposed.</exception>
    public TrainingResult Train(IReadOnlyList<Demonstration> train, IReadOnlyList<Demonstration>? eval = null, CancellationToken cancellation = default)
    {
        ApiChecks.NotEmpty(train, nameof(train));
        if (eval is not null) ApiChecks.NotEmpty(eval, nameof(eval));
        var folder = model.Folder;
        var trainSet = Tokenize(train);
        if (trainSet.Length == 0)
            throw new ArgumentException($"No demonstration fits the model's context of {model.ContextLength} tokens.", nameof(train));
        folder.Model.GradientCheckpointing = Arguments.GradientCheckpointing;
        using var task = new SftTask(folder.Model, folder.PadTokenId, folder.SaveTokenizerAndConfigs);
        return TrainerRun.Run(task, Arguments, trainSet, eval is null ? null : Tokenize(eval), this, Progress, cancellation);
    }

    private SftExample[] Tokenize(IReadOnlyList<Demonstration> examples)
    {
        var encoder = new DelegateTextEncoder(model.Encode);
        return examples.Select(e => new SftExample(model.Encode(e.Prompt), TokenSequences.Response(encoder, e.Response, TrainerRun.EosAppended, model.EosTokenId)))
            .Where(e => e.Length <= model.ContextLength).ToArray();
    }
}
