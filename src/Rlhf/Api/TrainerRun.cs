// What the public trainers share: argument checks, the shared loop with its progress relayed as events.
using Rlhf.Data;
using Rlhf.Training;

namespace Rlhf;

internal static class TrainerRun
{
    public static TrainingResult Run<TExample>(ITrainingTask<TExample> task, TrainingArguments arguments, IReadOnlyList<TExample> train,
        IReadOnlyList<TExample>? eval, object sender, EventHandler<TrainingProgress>? progress, CancellationToken cancellation, LoopHooks? hooks = null)
    {
        hooks ??= new();
        var loop = new TrainingLoop<TExample>(task, arguments, train, eval is { Count: > 0 } ? eval : null)
        {
            ExtraState = hooks.ExtraState, RestoreExtraState = hooks.RestoreExtraState, LearningRateMetric = hooks.LearningRateMetric,
            Progress = progress is null ? null : new Relay(p => progress(sender, p)),
        };
        return loop.Run(cancellation);
    }

    public static void Check(TrainingArguments arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ApiChecks.Valid(arguments.Validate, nameof(arguments));
    }

    /// <summary>The policy (not disposed) and an optional reference over the same vocabulary.</summary>
    public static void CheckReference(LanguageModel policy, LanguageModel? reference)
    {
        _ = policy.Folder;
        if (reference is not null && reference.VocabSize != policy.VocabSize)
            throw new ArgumentException($"The reference model's vocabulary ({reference.VocabSize}) differs from the policy's ({policy.VocabSize}).", nameof(reference));
    }

    /// <summary>
    /// A template without {eos}, so TokenSequences appends the EOS id: the API's texts come without the EOS
    /// text the CLI's pipeline renders (and encodes to that id), and the ids must be the same (PITFALLS #3: an SFT model
    /// that never sees EOS never stops).
    /// </summary>
    internal static PromptTemplate EosAppended => PromptTemplate.Raw;

    /// <summary>The RL trainers end each sampled response at EOS.</summary>
    public static void RequireEos(LanguageModel policy, string trainer)
    {
        if (policy.EosTokenId is null) throw new ArgumentException($"The policy names no EOS token; {trainer} needs one to end responses.", nameof(policy));
    }

    /// <summary>
    /// The prompts' token ids (used as given), those that leave no room for <paramref name="maxNewTokens"/> in the
    /// policy's context (and blank ones) left out, as <c>rlhf ppo</c> drops them.
    /// </summary>
    public static (string Text, int[] Ids)[] PromptIds(LanguageModel policy, IReadOnlyList<string> prompts, int maxNewTokens, string name)
    {
        ApiChecks.NotEmpty(prompts, name);
        int room = policy.ContextLength - maxNewTokens;
        var ids = prompts.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => (p, policy.Encode(p))).Where(p => p.Item2.Length <= room).ToArray();
        if (ids.Length == 0)
            throw new ArgumentException($"No prompt in {name} fits the policy's context of {policy.ContextLength} tokens with {maxNewTokens} new tokens ({room} left for the prompt).", name);
        return ids;
    }

    /// <summary>Synchronous (unlike <see cref="Progress{T}"/>): events arrive on the training thread, in order.</summary>
    private sealed class Relay(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
