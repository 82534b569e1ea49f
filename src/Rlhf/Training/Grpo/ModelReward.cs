// A learned reward (a reward-model folder, as PPO uses) as one of GRPO's or RLOO's reward functions.
using Rlhf.Training.Ppo;

namespace Rlhf.Training.Grpo;

internal sealed class ModelReward(IRewardFunction model, string name = "reward_model") : ICompletionReward
{
    public string Name => name;

    public double[] Score(IReadOnlyList<CompletionSample> samples) =>
        model.Score(samples.Select(s => s.PromptIds).ToArray(), samples.Select(s => s.CompletionIds).ToArray(),
            samples.Select(s => s.EndedWithEos).ToArray()).Select(v => (double)v).ToArray();
}
