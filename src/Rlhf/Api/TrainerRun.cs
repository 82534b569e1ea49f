// What the public trainers share: argument checks, the shared loop with its progress relayed as events.
using Rlhf.Training;

namespace Rlhf;

internal static class TrainerRun
{
    public static TrainingResult Run<TExample>(ITrainingTask<TExample> task, TrainingArguments arguments, IReadOnlyList<TExample> train,
        IReadOnlyList<TExample>? eval, object sender, EventHandler<TrainingProgress>? progress, CancellationToken cancellation)
    {
        var loop = new TrainingLoop<TExample>(task, arguments, train, eval is { Count: > 0 } ? eval : null)
        {
            Progress = progress is null ? null : new Relay(p => progress(sender, p)),
        };
        return loop.Run(cancellation);
    }

    public static void Check(TrainingArguments arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        try { arguments.Validate(); }
        catch (ArgumentException e) { throw new ArgumentOutOfRangeException(nameof(arguments), e.Message); }
    }

    /// <summary>Synchronous (unlike <see cref="Progress{T}"/>): events arrive on the training thread, in order.</summary>
    private sealed class Relay(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
