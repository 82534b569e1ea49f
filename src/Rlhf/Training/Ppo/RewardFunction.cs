// What PPO maximises: a score per (prompt, response). The reward model is one; tests use known rewards.
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Text;

namespace Rlhf.Training.Ppo;

internal interface IRewardFunction
{
    /// <summary>One score per rollout, given the prompt ids and the response ids (EOS included when emitted).</summary>
    float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, IReadOnlyList<bool> endedWithEos);
}

internal sealed class DelegateRewardFunction(Func<int[], int[], bool, float> score) : IRewardFunction
{
    public float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, IReadOnlyList<bool> endedWithEos) =>
        prompts.Select((p, i) => score(p, responses[i], endedWithEos[i])).ToArray();
}

/// <summary>
/// Scores with a reward model that may use another tokenizer (PITFALLS #13), as the textbook's PPO loop does: query
/// and response are decoded to text (special tokens skipped), joined, and the joined text tokenized at once with the
/// reward model's tokenizer (PITFALLS #12). A response that ended with EOS gets the reward model's EOS id after it, as
/// in its training text "… {response}{eos}"; with pad = EOS the pooling skips it, so the score is the textbook's.
/// </summary>
internal sealed class RewardModelScorer(RewardModel rewardModel, BpeTokenizer rewardTokenizer, BpeTokenizer policyTokenizer, int batchSize = 16)
    : IRewardFunction, IDisposable
{
    private readonly Arena arena = new();

    public float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, IReadOnlyList<bool> endedWithEos)
    {
        var sequences = new List<int[]>(prompts.Count);
        int maxLength = rewardModel.Model.Config.ContextLength;
        for (int i = 0; i < prompts.Count; i++)
        {
            var response = endedWithEos[i] ? responses[i][..^1] : responses[i];
            string text = policyTokenizer.Decode(prompts[i], skipSpecialTokens: true) + policyTokenizer.Decode(response, skipSpecialTokens: true);
            int[] ids =
            [
                .. rewardTokenizer.Encode(text, allowSpecialTokens: false),
                .. endedWithEos[i] && rewardTokenizer.EosTokenId is int eos ? new[] { eos } : [],
            ];
            sequences.Add(ids.Length > maxLength ? ids[^maxLength..] : ids);
        }
        var scores = new float[sequences.Count];
        int pad = rewardModel.PadTokenId ?? rewardTokenizer.PadTokenId ?? rewardTokenizer.EosTokenId ?? 0;
        var tape = new Tape { Enabled = false };
        for (int start = 0; start < sequences.Count; start += batchSize)
        {
            var chunk = sequences.Skip(start).Take(batchSize).ToArray();
            int length = chunk.Max(s => s.Length);
            var ids = new int[chunk.Length * length];
            var mask = new float[chunk.Length * length];
            Array.Fill(ids, pad);
            for (int b = 0; b < chunk.Length; b++)
            {
                chunk[b].CopyTo(ids, b * length);
                for (int t = 0; t < chunk[b].Length; t++) mask[b * length + t] = 1;
            }
            arena.Reset();
            var rewards = rewardModel.Rewards(new Ops(arena, tape), new CausalLmBatch(chunk.Length, length, ids, mask), trainable: false).Value.Span;
            for (int b = 0; b < chunk.Length; b++) scores[start + b] = rewards[b];
        }
        return scores;
    }

    public void Dispose() => arena.Dispose();
}
