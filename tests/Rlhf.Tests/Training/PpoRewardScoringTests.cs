// PPO's reward side: the reward model reads query + response as one text tokenized at once (as the textbook's PPO loop
// decodes, joins and re-tokenizes), and responses that never emit EOS still get missing_eos_penalty.
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Training.Ppo;
using Rlhf.Training.Reward;
using Xunit;

namespace Rlhf.Tests.Training;

public sealed class PpoRewardScoringTests
{
    [Fact]
    public void RewardModelScorer_ScoresTheJoinedTextTokenizedAtOnce()
    {
        using var dir = new TempDirectory();
        string folder = TinyModels.Create(dir.Sub("lm"));
        var tokenizer = BpeTokenizer.FromFolder(folder);
        int eos = tokenizer.EosTokenId!.Value;
        using var reward = RewardModel.FromCausalLm(folder, RewardPooling.LastToken, seed: 5);
        using var scorer = new RewardModelScorer(reward, tokenizer, tokenizer);
        string prompt = "### Question: What is the capital of France?\n### Answer: ", response = "Paris is the capital of France.";
        int[] promptIds = tokenizer.Encode(prompt), responseIds = [.. tokenizer.Encode(response), eos];
        int[] whole = [.. tokenizer.Encode(prompt + response), eos];
        Assert.NotEqual(whole, [.. promptIds, .. responseIds]); // the two tokenizations really differ here

        using var task = new RewardTask(reward, new RewardConfig(), eos);
        float expected = task.Score([whole])[0];
        Assert.Equal(expected, scorer.Score([promptIds], [responseIds], [true])[0], 1e-5f);
        // With pad = eos the trailing EOS is not what is scored: the same text without it scores the same.
        Assert.Equal(expected, scorer.Score([promptIds], [responseIds[..^1]], [false])[0], 1e-5f);
    }

    [Fact]
    public void MissingEosPenalty_IsSubtractedFromResponsesWithoutEos()
    {
        var tiny = new Gpt2Config { VocabSize = 16, ContextLength = 24, EmbeddingSize = 16, LayerCount = 1, HeadCount = 2, BosTokenId = 15, EosTokenId = 15 };
        var config = new PpoConfig { BatchSize = 8, MiniBatchSize = 4, GradientAccumulationSteps = 1, NumPpoEpochs = 1, MaxNewTokens = 3, MissingEosPenalty = 5f };
        var policy = PolicyWithValueHead.CreateRandom(tiny, 1);
        using var task = new PpoTask(policy, Gpt2Model.CreateRandom(tiny, 1), new DelegateRewardFunction((_, _, _) => 1f), config, 15, 15, seed: 3);
        var rng = new Rng(7);
        var prompts = Enumerable.Range(0, 8).Select(_ => new[] { 1 + rng.NextInt(12), 1 + rng.NextInt(12) }).ToList();
        var metrics = task.TrainStep([prompts], () => 0.0);
        double withEos = metrics["val/num_eos_tokens"];
        Assert.True(withEos < 8, "every response emitted EOS: the penalty was not exercised");
        Assert.Equal(1 - 5 * (8 - withEos) / 8, metrics["objective/scores"], 1e-6);
    }
}
