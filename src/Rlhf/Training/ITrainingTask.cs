// What a trainer (SFT, reward, DPO, PPO) plugs into the shared loop: a model, a step, an evaluation, a save.
using Rlhf.Tensors;

namespace Rlhf.Training;

internal interface ITrainingTask<TExample>
{
    /// <summary>The trainable parameters (the optimizer's state mirrors them).</summary>
    ParameterSet Parameters { get; }

    /// <summary>
    /// Forward and backward over the micro-batches of one optimizer step, adding into the parameter gradients
    /// (normalised over the whole group, so 1 × 4 equals 4 × 1). Returns metrics to log, e.g. "loss", and
    /// "tokens" (processed, for tokens/s).
    /// </summary>
    IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<TExample>> microBatches);

    /// <summary>Metrics on held-out examples (no gradients), with TRL's names ("eval_" is prefixed by the loop).</summary>
    IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<TExample> examples, int batchSize);

    /// <summary>Writes the trained model (a self-contained Hugging Face folder).</summary>
    void SaveModel(string directory);

    /// <summary>Loads weights saved by <see cref="SaveModel"/> (for resuming).</summary>
    void LoadModel(string directory);
}

/// <summary>
/// A task whose one outer step applies several optimizer updates itself (PPO: a rollout, then epochs of
/// minibatches). The loop hands it <c>update</c>, which clips the gradients, steps the optimizer at the step's
/// learning rate, zeroes the gradients and returns the pre-clip norm.
/// </summary>
internal interface ISelfSteppingTask<TExample> : ITrainingTask<TExample>
{
    IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<TExample>> microBatches, Func<double> update);
}
