// GRPO (Shao et al. 2024, TRL's GRPOTrainer) and RLOO (Ahmadian et al. 2024, TRL's RLOOTrainer) on the shared loop,
// in stages: (1) sample num_generations completions per prompt, (2) score them with the reward functions,
// (3) log-probs of the sampling policy and the reference where needed, (4) group baselines → advantages,
// (5) num_iterations optimizer updates over the generation batch, each accumulating its micro-batches.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Text;

namespace Rlhf.Training.Grpo;

internal sealed class GrpoTask : ISelfSteppingTask<GrpoExample>, IDataParallelSelfSteppingTask, IDisposable
{
    private readonly Arena arena = new();
    private readonly Tape tape = new();
    private readonly Tape frozen = new() { Enabled = false };
    private readonly Action<string>? saveModel;
    private readonly ulong seed;
    private long generationCount;
    private Distributed.ICommunicator communicator = Distributed.SingleProcess.Instance;

    Distributed.ICommunicator IDataParallelSelfSteppingTask.Communicator { set => communicator = value; }

    public ICausalLm Policy { get; }
    /// <summary>The frozen reference; null when β = 0 (it is then never needed).</summary>
    public ICausalLm? Reference { get; }
    public BpeTokenizer Tokenizer { get; }
    public RewardSet Rewards { get; }
    public GrpoConfig Config { get; }
    public int EosTokenId { get; }

    /// <summary>Further ids that also end a sample (generation_config.json's eos_token_id list; Llama 3 Instruct lists three).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    public int PadTokenId { get; }
    public ParameterSet Parameters => Policy.Parameters;

    /// <summary>Told why a generation batch was skipped (a reward that could not score a completion).</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>The importance ratios of the first micro-batch of the last generation batch's first iteration (all exactly 1).</summary>
    public IReadOnlyList<double>? FirstRatios { get; private set; }

    public GrpoTask(ICausalLm policy, ICausalLm? reference, BpeTokenizer tokenizer, RewardSet rewards, GrpoConfig config,
        int eosTokenId, int padTokenId, ulong seed, Action<string>? saveModel = null)
    {
        config.Validate();
        if (config.Beta > 0 && reference is null) throw new ArgumentException("β > 0 needs a reference model.", nameof(reference));
        if (reference is not null && reference.Config.VocabSize != policy.Config.VocabSize)
            throw new ArgumentException($"The reference model's vocabulary ({reference.Config.VocabSize}) differs from the policy's ({policy.Config.VocabSize}).");
        Policy = policy;
        Reference = config.Beta > 0 ? reference : null;
        Tokenizer = tokenizer;
        Rewards = rewards;
        Config = config;
        EosTokenId = eosTokenId;
        PadTokenId = padTokenId;
        this.seed = seed;
        this.saveModel = saveModel;
    }

    public IReadOnlyDictionary<string, double> State() => new Dictionary<string, double> { ["generations"] = generationCount };

    public void Restore(IReadOnlyDictionary<string, double> state)
    {
        if (state.TryGetValue("generations", out var count)) generationCount = (long)count;
    }

    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<GrpoExample>> microBatches) =>
        throw new InvalidOperationException("GRPO applies its own optimizer updates; run it through TrainingLoop, which passes them.");

    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<GrpoExample>> microBatches, Func<double> update)
    {
        var prompts = microBatches.SelectMany(b => b).ToList();
        long index = generationCount++;
        int groupSize = Config.NumGenerations;

        // (1)–(2) sample and score; in a data-parallel job each rank its share of the prompts, then all of them.
        int rank = communicator.Rank, size = communicator.Size;
        var (samples, each) = size == 1 ? SampleAndScore(prompts, groupSize, Mix(seed, (ulong)index, 0)) : SampleAndScoreShared(prompts, groupSize, index);
        var rewards = Rewards.Combine(each);
        int unscorable = Array.FindIndex(rewards, r => !double.IsFinite(r));
        if (unscorable >= 0)
        {
            var s = samples[unscorable].Sample;
            Warn?.Invoke($"skipped a generation batch: no finite reward for {(s.Row is { } row ? row.Location : $"prompt '{s.Prompt}'")} " +
                $"(completion '{Shorten(s.Completion)}')");
            return new Dictionary<string, double> { ["reward"] = double.NaN };
        }

        // The micro-batches of every iteration (TRL shuffles the generation batch once, then splits it).
        var order = Enumerable.Range(0, samples.Count).ToArray();
        new Rng(Mix(seed, (ulong)index, 1)).Shuffle(order.AsSpan());
        var chunks = order.Chunk(Config.PerDeviceTrainBatchSize).ToArray();

        // (3) log-probs of the sampling policy (ratios for μ > 1; RLOO's KL) and of the reference, in the same chunks;
        // each rank those of the chunks it trains (chunk c on rank c mod size).
        var owned = Enumerable.Range(0, chunks.Length).Where(c => c % size == rank).ToArray();
        bool needOld = Config.NumIterations > 1 || (Config.Estimator == GroupEstimator.LeaveOneOut && Config.Beta > 0);
        if (needOld || Reference is not null)
            foreach (int c in owned) ScoreFrozen(chunks[c].Select(i => samples[i]).ToArray(), needOld);
        bool frozenFailed = samples.Any(s => (s.Old is not null && !AllFinite(s.Old)) || (s.Reference is not null && !AllFinite(s.Reference)));
        if (size > 1 ? Ppo.PpoRolloutExchange.Any(communicator, frozenFailed) : frozenFailed)
            return new Dictionary<string, double> { ["reward"] = double.NaN };

        // (4) advantages; RLOO first takes β·Σₜ(log π_old − log π_ref) off each reward.
        var metrics = new Dictionary<string, double>();
        var shaped = (double[])rewards.Clone();
        if (Config.Estimator == GroupEstimator.LeaveOneOut && Config.Beta > 0)
        {
            // Σₜ per completion on the rank that scored it; a sum over the ranks shares them (one non-zero term each: exact).
            var sequenceKl = new double[samples.Count];
            foreach (int i in owned.SelectMany(c => chunks[c]))
            {
                if (!samples[i].Included) continue;
                for (int t = 0; t < samples[i].Length; t++) sequenceKl[i] += samples[i].Old![t] - samples[i].Reference![t];
            }
            if (size > 1) communicator.AllReduceSum(sequenceKl);
            double klSum = 0;
            long klTokens = 0;
            for (int i = 0; i < samples.Count; i++)
            {
                if (!samples[i].Included) continue;
                shaped[i] -= Config.Beta * sequenceKl[i];
                klSum += sequenceKl[i];
                klTokens += samples[i].Length;
            }
            metrics["kl"] = klSum / Math.Max(1, klTokens);
        }
        var advantages = Config.Estimator == GroupEstimator.LeaveOneOut
            ? GroupAdvantages.LeaveOneOut(shaped, groupSize, Config.NormalizeAdvantages)
            : GroupAdvantages.GroupRelative(shaped, groupSize, Config.ScaleRewards);
        foreach (var (name, value) in advantages.Metrics) metrics[name] = value;
        metrics["reward"] = rewards.Average();
        metrics["reward_std"] = GroupAdvantages.NanStd(rewards, 0, rewards.Length);
        for (int k = 0; k < each.Length; k++)
        {
            metrics[$"rewards/{Rewards.Functions[k].Name}/mean"] = each[k].Average();
            metrics[$"rewards/{Rewards.Functions[k].Name}/std"] = GroupAdvantages.NanStd(each[k], 0, each[k].Length);
        }
        for (int i = 0; i < samples.Count; i++) samples[i].Advantage = advantages.Advantages[i];
        AddCompletionMetrics(metrics, samples);

        // (5) μ updates over the same micro-batches.
        long generationTokens = samples.Where(s => s.Included).Sum(s => (long)s.Length);
        var sums = new Dictionary<string, double>();
        int passes = 0;
        double loss = 0;
        FirstRatios = null;
        for (int iteration = 0; iteration < Config.NumIterations; iteration++)
        {
            bool failed = false;
            foreach (int c in owned)
            {
                var result = TrainMicroBatch(chunks[c].Select(i => samples[i]).ToArray(), generationTokens, chunks.Length, iteration == 0 && c == 0);
                if (result is null)
                {
                    failed = true;
                    break;
                }
                loss += result.Loss;
                foreach (var (name, value) in result.Metrics) sums[name] = sums.GetValueOrDefault(name) + value;
            }
            passes += chunks.Length;
            if (size > 1 ? Ppo.PpoRolloutExchange.Any(communicator, failed) : failed)
            {
                Parameters.ZeroGradients();
                return new Dictionary<string, double> { ["loss"] = double.NaN };
            }
            update(); // sums the ranks' gradients first (the loop's one all-reduce per update)
        }
        if (size > 1)
        {
            sums["loss"] = loss;
            sums = Distributed.Collectives.SumMetrics(communicator, sums, false).Metrics;
            loss = sums["loss"];
            sums.Remove("loss");
        }
        foreach (var (name, sum) in sums) metrics[name] = sum / passes;
        metrics["loss"] = loss / Config.NumIterations; // each iteration's micro-batch losses add up to its objective
        metrics["tokens"] = samples.Sum(s => s.Sample.PromptIds.Length + s.Length) * (double)(1 + Config.NumIterations);
        return metrics;
    }

    private (List<Completion> Samples, double[][] Each) SampleAndScore(IReadOnlyList<GrpoExample> prompts, int perPrompt, ulong sampleSeed)
    {
        var samples = Sample(prompts, perPrompt, sampleSeed);
        return (samples, Rewards.ScoreEach(samples.Select(s => s.Sample).ToArray()));
    }

    /// <summary>
    /// Stages 1–2 across the ranks: this rank samples and scores prompts rank, rank + size, … (rank 0 with the seed one
    /// process would use), then every rank receives every completion and reward, in the order one process makes them.
    /// </summary>
    private (List<Completion> Samples, double[][] Each) SampleAndScoreShared(IReadOnlyList<GrpoExample> prompts, int perPrompt, long index)
    {
        int rank = communicator.Rank, size = communicator.Size;
        var mine = Enumerable.Range(0, prompts.Count).Where(i => i % size == rank).ToArray();
        var local = new List<GrpoExchange.SharedCompletion>();
        if (mine.Length > 0)
        {
            ulong sampleSeed = Mix(seed, (ulong)index, 0);
            if (rank > 0) sampleSeed = Mix(sampleSeed, (ulong)rank, 2);
            var (samples, each) = SampleAndScore(mine.Select(i => prompts[i]).ToArray(), perPrompt, sampleSeed);
            for (int j = 0; j < samples.Count; j++)
                local.Add(new(mine[j / perPrompt], samples[j].Sample.PromptIds, samples[j].Sample.CompletionIds, samples[j].Sample.EndedWithEos,
                    each.Select(scores => scores[j]).ToArray()));
        }
        var all = GrpoExchange.GatherByPrompt(communicator, local);
        var completions = all.Select(c =>
        {
            var prompt = prompts[c.Prompt];
            var sample = new CompletionSample(prompt.Prompt, Tokenizer.Decode(c.CompletionIds, skipSpecialTokens: true), c.PromptIds, c.CompletionIds,
                c.EndedWithEos, prompt.Row);
            return new Completion(sample, !Config.MaskTruncatedCompletions || c.EndedWithEos);
        }).ToList();
        var rewards = Enumerable.Range(0, Rewards.Functions.Count).Select(k => all.Select(c => c.Rewards[k]).ToArray()).ToArray();
        return (completions, rewards);
    }

    /// <summary>Stage 1: num_generations completions per prompt, sampled from the full policy at the temperature.</summary>
    private List<Completion> Sample(IReadOnlyList<GrpoExample> prompts, int perPrompt, ulong sampleSeed)
    {
        var repeated = prompts.SelectMany(p => Enumerable.Repeat(p, perPrompt)).ToArray();
        var options = new GenerationOptions
        {
            MaxNewTokens = Config.MaxCompletionLength, DoSample = perPrompt > 1, Temperature = Config.Temperature,
            Seed = sampleSeed, EosTokenId = EosTokenId, EosTokenIds = StopTokenIds, PadTokenId = PadTokenId,
        };
        var results = Generator.Generate(Policy, repeated.Select(p => p.PromptIds).ToArray(), options);
        return results.Select((r, i) =>
        {
            var completion = Tokenizer.Decode(r.Ids, skipSpecialTokens: true);
            var sample = new CompletionSample(repeated[i].Prompt, completion, r.PromptIds, r.Ids, r.EndedWithEos, repeated[i].Row);
            return new Completion(sample, !Config.MaskTruncatedCompletions || r.EndedWithEos);
        }).ToList();
    }

    private void ScoreFrozen(Completion[] chunk, bool old)
    {
        arena.Reset();
        var batch = Collate(chunk);
        var ops = new Ops(arena, frozen);
        float[]? policy = old ? LogProbs(Policy, ops, batch, null, trainable: false).Value.ToArray() : null;
        float[]? reference = Reference is null ? null : LogProbs(Reference, ops, batch, null, trainable: false).Value.ToArray();
        for (int b = 0; b < chunk.Length; b++)
        {
            var s = chunk[b];
            if (policy is not null) s.Old = Gather(policy, batch, s, b);
            if (reference is not null) s.Reference = Gather(reference, batch, s, b);
        }
    }

    /// <summary>Forward with gradients, the loss's gradient set on the log-probs, backward.</summary>
    private LossResult? TrainMicroBatch(Completion[] chunk, long generationTokens, int accumulationSteps, bool first)
    {
        arena.Reset();
        var batch = Collate(chunk);
        var entropy = arena.AllocateUninitialized(batch.TokenIds.Length);
        var logProbs = LogProbs(Policy, new Ops(arena, tape), batch, entropy, trainable: true);
        var values = logProbs.Value.ToArray();
        var entropies = entropy.Span.ToArray();
        var sequences = new LossSequence[chunk.Length];
        for (int b = 0; b < chunk.Length; b++)
        {
            var s = chunk[b];
            var current = Gather(values, batch, s, b);
            if (s.Included && !AllFinite(current))
            {
                tape.Clear();
                return null;
            }
            // μ = 1: the sampling policy is the current one, ρ ≡ 1 (TRL detaches the same log-probs).
            var old = Config.NumIterations > 1 ? s.Old : null;
            sequences[b] = new LossSequence(current, old, s.Reference, Gather(entropies, batch, s, b), s.Advantage, s.Included);
        }
        if (first && Config.NumIterations > 1)
            FirstRatios = sequences.SelectMany(q => q.LogProbs.Select((lp, t) => Math.Exp(lp - q.OldLogProbs![t]))).ToArray();
        var result = GrpoLoss.Compute(sequences, Config, generationTokens, accumulationSteps);
        var gradient = logProbs.Gradient.Span;
        for (int b = 0; b < chunk.Length; b++)
            for (int j = 0; j < chunk[b].Length; j++)
                gradient[RolloutBatch.TokenIndex(batch, chunk[b].Sample.PromptIds.Length, b, j)] = result.Gradients[b][j];
        tape.Backward();
        return result;
    }

    /// <summary>log π(target) at every position of the batch, from logits ÷ temperature (as sampled).</summary>
    private Node LogProbs(ICausalLm model, Ops ops, CausalLmBatch batch, Tensor? entropy, bool trainable) =>
        CausalLm.TokenLogProbs(model, ops, batch, trainable, Config.Temperature, entropy);

    private CausalLmBatch Collate(IReadOnlyList<Completion> chunk) =>
        RolloutBatch.Collate(chunk.Select(c => (c.Sample.PromptIds, c.Sample.CompletionIds)).ToArray(), PadTokenId);

    private static float[] Gather(float[] flat, CausalLmBatch batch, Completion c, int row)
    {
        var values = new float[c.Length];
        for (int j = 0; j < c.Length; j++) values[j] = flat[RolloutBatch.TokenIndex(batch, c.Sample.PromptIds.Length, row, j)];
        return values;
    }

    private static void AddCompletionMetrics(Dictionary<string, double> metrics, List<Completion> samples)
    {
        var lengths = samples.Select(s => (double)s.Length).ToArray();
        var terminated = samples.Where(s => s.Sample.EndedWithEos).Select(s => (double)s.Length).ToArray();
        metrics["completions/mean_length"] = lengths.Average();
        metrics["completions/min_length"] = lengths.Min();
        metrics["completions/max_length"] = lengths.Max();
        metrics["completions/clipped_ratio"] = 1 - (double)terminated.Length / samples.Count;
        metrics["completions/mean_terminated_length"] = terminated.Length == 0 ? 0 : terminated.Average();
    }

    /// <summary>Held-out: one greedy completion per prompt, its rewards (reward = accuracy for a 0/1 rule).</summary>
    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<GrpoExample> examples, int batchSize)
    {
        var all = new List<Completion>();
        for (int start = 0; start < examples.Count; start += batchSize)
            all.AddRange(Sample(examples.Skip(start).Take(batchSize).ToArray(), 1, 0));
        var each = Rewards.ScoreEach(all.Select(c => c.Sample).ToArray());
        var total = Rewards.Combine(each);
        var metrics = new Dictionary<string, double> { ["reward"] = total.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average() };
        for (int k = 0; k < each.Length; k++)
            metrics[$"rewards/{Rewards.Functions[k].Name}/mean"] = each[k].Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        AddCompletionMetrics(metrics, all);
        return metrics;
    }

    public void SaveModel(string directory)
    {
        Policy.Save(directory);
        saveModel?.Invoke(directory);
    }

    public void LoadModel(string directory) => Policy.LoadWeights(directory);

    public void Dispose() => arena.Dispose();

    private static bool AllFinite(float[] values) => Array.TrueForAll(values, float.IsFinite);

    private static ulong Mix(ulong a, ulong b, ulong c) => (a * 0x9E3779B97F4A7C15UL) ^ (b * 0xBF58476D1CE4E5B9UL) ^ (c * 0x94D049BB133111EBUL);

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    /// <summary>One sampled completion and what the loss needs about it, per completion token.</summary>
    private sealed class Completion(CompletionSample sample, bool included)
    {
        public CompletionSample Sample { get; } = sample;
        public bool Included { get; } = included;
        public float[]? Old { get; set; }
        public float[]? Reference { get; set; }
        public float Advantage { get; set; }
        public int Length => Sample.CompletionIds.Length;
    }
}
