// PPO from a reward (Ouyang et al. 2022; Ziegler et al. 2019; TRL's PPOTrainer), in numbered stages:
// (1) rollout by sampling, (2) EOS truncation and scoring, (3) per-token reward −β·KL plus the score, (4) β update,
// (5) optional reward whitening, (6) GAE and advantage whitening, (7) epochs × minibatches of clipped losses.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;

namespace Rlhf.Training.Ppo;

internal sealed class PpoTask : ISelfSteppingTask<int[]>, IDisposable
{
    private readonly Arena arena = new();
    private readonly Tape tape = new();
    private readonly Tape frozen = new() { Enabled = false };
    private readonly Action<string>? saveExtras;
    private readonly IKlController kl;
    private readonly ulong seed;
    private long rolloutCount;

    public PolicyWithValueHead Policy { get; }
    public ICausalLm Reference { get; }
    public IRewardFunction Reward { get; }
    public PpoConfig Config { get; }
    public int EosTokenId { get; }
    public int PadTokenId { get; }
    public ParameterSet Parameters => Policy.Model.Parameters;

    /// <summary>The KL coefficient β used by the next rollout.</summary>
    public double KlCoefficient => kl.Value;

    /// <summary>Prompts rolled out so far (TRL's "episode").</summary>
    public long Episode { get; private set; }

    /// <summary>Metrics of the first minibatch of the first epoch of the last rollout (its ratio must be exactly 1).</summary>
    public IReadOnlyDictionary<string, double>? FirstMinibatchMetrics { get; private set; }

    public PpoTask(PolicyWithValueHead policy, ICausalLm reference, IRewardFunction reward, PpoConfig config, int eosTokenId, int padTokenId,
        ulong seed, Action<string>? saveExtras = null)
    {
        config.Validate();
        if (reference.Config.VocabSize != policy.Model.Config.VocabSize)
            throw new ArgumentException($"The reference model's vocabulary ({reference.Config.VocabSize}) differs from the policy's ({policy.Model.Config.VocabSize}).");
        Policy = policy;
        Reference = reference;
        Reward = reward;
        Config = config;
        EosTokenId = eosTokenId;
        PadTokenId = padTokenId;
        this.seed = seed;
        this.saveExtras = saveExtras;
        kl = config.CreateKlController();
    }

    /// <summary>State to checkpoint besides weights and optimizer (PITFALLS #14).</summary>
    public IReadOnlyDictionary<string, double> State() => new Dictionary<string, double>
    {
        ["kl_coef"] = kl.Value, ["episode"] = Episode, ["rollouts"] = rolloutCount,
    };

    public void Restore(IReadOnlyDictionary<string, double> state)
    {
        if (state.TryGetValue("kl_coef", out var beta)) kl.Restore(beta);
        if (state.TryGetValue("episode", out var episode)) Episode = (long)episode;
        if (state.TryGetValue("rollouts", out var rollouts)) rolloutCount = (long)rollouts;
    }

    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<int[]>> microBatches) =>
        throw new InvalidOperationException("PPO applies its own optimizer updates; run it through TrainingLoop, which passes them.");

    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<int[]>> microBatches, Func<double> update)
    {
        var prompts = microBatches.SelectMany(b => b).ToList();
        long index = rolloutCount++;
        double beta = kl.Value;
        var permutations = Enumerable.Range(0, Config.NumPpoEpochs).Select(e => Permutation(prompts.Count, index, e)).ToArray();

        // (1)–(2) sample, cut at EOS, score.
        var rollouts = Sample(prompts, index);
        var scores = Reward.Score(rollouts.Select(r => r.PromptIds).ToArray(), rollouts.Select(r => r.ResponseIds).ToArray(),
            rollouts.Select(r => r.EndedWithEos).ToArray());
        for (int i = 0; i < rollouts.Count; i++)
            rollouts[i].Score = scores[i] - (!rollouts[i].EndedWithEos && Config.MissingEosPenalty is float penalty ? penalty : 0f);
        Episode += prompts.Count;
        if (rollouts.Any(r => !float.IsFinite(r.Score)))
            return new Dictionary<string, double> { ["objective/scores"] = double.NaN, ["episode"] = Episode, ["kl_coef"] = beta };

        // Old log-probs, values and reference log-probs, computed in exactly the micro-batches the first epoch
        // trains on, so the first minibatch's ratio is exactly 1 (PITFALLS #6).
        foreach (var chunk in Chunks(permutations[0])) ScoreTokens(chunk.Select(i => rollouts[i]).ToArray());
        if (rollouts.Any(r => !AllFinite(r.OldLogProbs) || !AllFinite(r.ReferenceLogProbs) || !AllFinite(r.Values)))
            return new Dictionary<string, double> { ["objective/kl"] = double.NaN, ["episode"] = Episode, ["kl_coef"] = beta };

        // (3)–(6) per-token rewards, GAE, whitening.
        var objective = Advantages(rollouts, beta);

        // (7) epochs × minibatches of the clipped objectives.
        var training = Optimize(rollouts, permutations, update);
        if (training is null)
            return new Dictionary<string, double> { ["loss/policy_avg"] = double.NaN, ["episode"] = Episode, ["kl_coef"] = beta };

        // (4) β for the next rollout, from this rollout's KL.
        kl.Update(objective["objective/kl"], prompts.Count);
        var metrics = new Dictionary<string, double>(objective);
        foreach (var (name, value) in training) metrics[name] = value;
        metrics["objective/entropy"] = rollouts.Average(r => r.Entropy.Sum());
        metrics["val/num_eos_tokens"] = rollouts.Count(r => r.EndedWithEos);
        metrics["kl_coef"] = beta;
        metrics["episode"] = Episode;
        metrics["tokens"] = rollouts.Sum(r => r.PromptIds.Length + r.Length);
        return metrics;
    }

    private static bool AllFinite(float[] values) => Array.TrueForAll(values, float.IsFinite);

    private int[] Permutation(int count, long rollout, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Rng(Mix(seed, (ulong)rollout, (ulong)epoch + 1)).Shuffle(order.AsSpan());
        return order;
    }

    private static ulong Mix(ulong a, ulong b, ulong c) => (a * 0x9E3779B97F4A7C15UL) ^ (b * 0xBF58476D1CE4E5B9UL) ^ (c * 0x94D049BB133111EBUL);

    private IEnumerable<int[]> Chunks(int[] order)
    {
        for (int start = 0; start < order.Length; start += Config.MiniBatchSize)
            yield return order[start..Math.Min(order.Length, start + Config.MiniBatchSize)];
    }

    /// <summary>
    /// Stage 1: sampling from the policy itself (no top-k / top-p: the textbook's top_k 0, top_p 1), so the log-probs the
    /// ratio and the KL use are those of the distribution actually sampled (PITFALLS #5).
    /// </summary>
    private List<PpoRollout> Sample(IReadOnlyList<int[]> prompts, long rollout)
    {
        var options = new GenerationOptions
        {
            MaxNewTokens = Config.MaxNewTokens, DoSample = true, Temperature = Config.Temperature,
            Seed = Mix(seed, (ulong)rollout, 0), EosTokenId = EosTokenId, PadTokenId = PadTokenId,
        };
        return Generator.Generate(Policy.Model, prompts, options)
            .Select(r => new PpoRollout { PromptIds = r.PromptIds, ResponseIds = r.Ids, EndedWithEos = r.EndedWithEos })
            .ToList();
    }

    private CausalLmBatch Collate(IReadOnlyList<PpoRollout> rollouts) =>
        RolloutBatch.Collate(rollouts.Select(r => (r.PromptIds, r.ResponseIds)).ToArray(), PadTokenId);

    private static int TokenIndex(CausalLmBatch batch, PpoRollout rollout, int row, int j) =>
        RolloutBatch.TokenIndex(batch, rollout.PromptIds.Length, row, j);

    private void ScoreTokens(PpoRollout[] chunk)
    {
        arena.Reset();
        var batch = Collate(chunk);
        var ops = new Ops(arena, frozen);
        var entropy = arena.AllocateUninitialized(batch.TokenIds.Length);
        var (logProbs, values) = Policy.Forward(ops, batch, Config.Temperature, entropy, trainable: false);
        var reference = CausalLm.TokenLogProbs(Reference, ops, batch, trainable: false, Config.Temperature).Value.Span;
        var lp = logProbs.Value.Span;
        var v = values.Value.Span;
        var h = entropy.Span;
        for (int b = 0; b < chunk.Length; b++)
        {
            var r = chunk[b];
            r.OldLogProbs = new float[r.Length];
            r.ReferenceLogProbs = new float[r.Length];
            r.Values = new float[r.Length];
            r.Entropy = new float[r.Length];
            for (int j = 0; j < r.Length; j++)
            {
                int i = TokenIndex(batch, r, b, j);
                (r.OldLogProbs[j], r.ReferenceLogProbs[j], r.Values[j], r.Entropy[j]) = (lp[i], reference[i], v[i], h[i]);
            }
        }
    }

    /// <summary>Stages 3, 5, 6 over a padded [N, T] layout of the response tokens.</summary>
    private IReadOnlyDictionary<string, double> Advantages(List<PpoRollout> rollouts, double beta)
    {
        int n = rollouts.Count, steps = rollouts.Max(r => r.Length);
        var mask = new bool[n * steps];
        var logp = new float[n * steps];
        var reference = new float[n * steps];
        var values = new float[n * steps];
        for (int b = 0; b < n; b++)
            for (int j = 0; j < rollouts[b].Length; j++)
            {
                mask[b * steps + j] = true;
                (logp[b * steps + j], reference[b * steps + j], values[b * steps + j]) =
                    (rollouts[b].OldLogProbs[j], rollouts[b].ReferenceLogProbs[j], rollouts[b].Values[j]);
            }
        var klPerToken = PpoMath.KlPerToken(logp, reference, mask, Config.KlEstimator);
        var tokenRewards = PpoMath.TokenRewards(rollouts.Select(r => r.Score).ToArray(), klPerToken, mask, beta);
        // Whitening needs a variance: with fewer than two response tokens in the whole batch it is skipped.
        bool canWhiten = mask.Count(valid => valid) >= 2;
        var rewards = Config.WhitenRewards && canWhiten ? PpoMath.Whiten(tokenRewards.Rewards, mask, shiftMean: false) : tokenRewards.Rewards;
        var gae = PpoMath.Gae(rewards, values, mask, steps, Config.Gamma, Config.Lambda);
        var advantages = Config.WhitenAdvantages && canWhiten ? PpoMath.Whiten(gae.Advantages, mask) : gae.Advantages;
        for (int b = 0; b < n; b++)
        {
            rollouts[b].Advantages = advantages.AsSpan(b * steps, rollouts[b].Length).ToArray();
            rollouts[b].Returns = gae.Returns.AsSpan(b * steps, rollouts[b].Length).ToArray();
        }
        return tokenRewards.Metrics;
    }

    /// <summary>Stage 7; returns averaged loss metrics, or null when a forward pass produced non-finite values.</summary>
    private Dictionary<string, double>? Optimize(List<PpoRollout> rollouts, int[][] permutations, Func<double> update)
    {
        var sums = new Dictionary<string, double>();
        int passes = 0;
        FirstMinibatchMetrics = null;
        for (int epoch = 0; epoch < Config.NumPpoEpochs; epoch++)
        {
            var chunks = Chunks(permutations[epoch]).ToArray();
            for (int c = 0; c < chunks.Length; c++)
            {
                int groupStart = c / Config.GradientAccumulationSteps * Config.GradientAccumulationSteps;
                int groupSize = Math.Min(Config.GradientAccumulationSteps, chunks.Length - groupStart);
                var metrics = TrainMinibatch(chunks[c].Select(i => rollouts[i]).ToArray(), 1f / groupSize);
                if (metrics is null)
                {
                    Parameters.ZeroGradients();
                    return null;
                }
                if (epoch == 0 && c == 0) FirstMinibatchMetrics = metrics;
                foreach (var (name, value) in metrics) sums[name] = sums.GetValueOrDefault(name) + value;
                passes++;
                if (c == groupStart + groupSize - 1) update();
            }
        }
        foreach (var name in sums.Keys.ToArray()) sums[name] /= passes;
        return sums;
    }

    /// <summary>Forward with gradients; loss = policy loss + vf_coef · value loss, scaled for accumulation.</summary>
    private IReadOnlyDictionary<string, double>? TrainMinibatch(PpoRollout[] chunk, float scale)
    {
        arena.Reset();
        var batch = Collate(chunk);
        var (logProbs, values) = Policy.Forward(new Ops(arena, tape), batch, Config.Temperature);
        int count = batch.TokenIds.Length;
        var mask = new bool[count];
        var oldLogp = new float[count];
        var advantages = new float[count];
        var oldValues = new float[count];
        var returns = new float[count];
        for (int b = 0; b < chunk.Length; b++)
        {
            var r = chunk[b];
            for (int j = 0; j < r.Length; j++)
            {
                int i = TokenIndex(batch, r, b, j);
                mask[i] = true;
                (oldLogp[i], advantages[i], oldValues[i], returns[i]) = (r.OldLogProbs[j], r.Advantages[j], r.Values[j], r.Returns[j]);
            }
        }
        var newLogp = logProbs.Value.ToArray();
        var newValues = values.Value.ToArray();
        for (int i = 0; i < count; i++)
        {
            if (mask[i] && (!float.IsFinite(newLogp[i]) || !float.IsFinite(newValues[i])))
            {
                tape.Clear();
                return null;
            }
        }
        var policy = PpoMath.ClippedPolicyLoss(newLogp, oldLogp, advantages, mask, Config.ClipRange);
        var value = PpoMath.ClippedValueLoss(newValues, oldValues, returns, mask, Config.ClipRangeValue);
        var logpGradient = logProbs.Gradient.Span;
        var valueGradient = values.Gradient.Span;
        for (int i = 0; i < count; i++)
        {
            logpGradient[i] = policy.Gradient[i] * scale;
            valueGradient[i] = (float)(Config.VfCoef * value.Gradient[i]) * scale;
        }
        tape.Backward();
        var metrics = new Dictionary<string, double>(policy.Metrics);
        foreach (var (name, v) in value.Metrics) metrics[name] = v;
        metrics["loss/total"] = policy.Loss + Config.VfCoef * value.Loss;
        return metrics;
    }

    /// <summary>Held-out evaluation: sampled responses (fixed seed), their mean score and KL to the reference.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<int[]> examples, int batchSize)
    {
        var scoresSum = 0.0;
        var klSum = 0.0;
        int eosCount = 0;
        for (int start = 0; start < examples.Count; start += batchSize)
        {
            var prompts = examples.Skip(start).Take(batchSize).ToList();
            var rollouts = Sample(prompts, -1 - start);
            var scores = Reward.Score(prompts, rollouts.Select(r => r.ResponseIds).ToArray(), rollouts.Select(r => r.EndedWithEos).ToArray());
            foreach (var chunk in Chunks(Enumerable.Range(0, rollouts.Count).ToArray())) ScoreTokens(chunk.Select(i => rollouts[i]).ToArray());
            scoresSum += scores.Sum();
            foreach (var r in rollouts)
            {
                for (int j = 0; j < r.Length; j++) klSum += r.OldLogProbs[j] - r.ReferenceLogProbs[j];
                if (r.EndedWithEos) eosCount++;
            }
        }
        return new Dictionary<string, double>
        {
            ["objective/scores"] = scoresSum / examples.Count,
            ["objective/kl"] = klSum / examples.Count,
            ["val/num_eos_tokens"] = eosCount,
        };
    }

    public void SaveModel(string directory)
    {
        Policy.Save(directory);
        saveExtras?.Invoke(directory);
    }

    public void LoadModel(string directory) => Policy.LoadWeights(directory);

    public void Dispose() => arena.Dispose();
}
