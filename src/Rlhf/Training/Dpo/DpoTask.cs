// DPO on the shared loop: policy and frozen reference log-probs of chosen and rejected responses in one padded
// forward each, the DPO loss family on their sums, and its gradient pushed back through the policy's LM head.
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Training.Dpo;

internal sealed class DpoTask : IShardedTrainingTask<DpoExample>, IDisposable
{
    private readonly Arena arena = new();
    private readonly Tape tape = new();
    private readonly Tape frozen = new() { Enabled = false };
    private readonly Action<string>? saveExtras;
    private readonly bool ownsReference;
    private ICausalLm? reference;

    public ICausalLm Policy { get; }
    public DpoConfig Config { get; }
    public int PadTokenId { get; }
    public ParameterSet Parameters => Policy.Parameters;

    /// <summary>The most floats the step arena (activations, their gradients, recomputed segments) held at once (benchmarks).</summary>
    internal long PeakArenaFloats => arena.PeakUsed;

    /// <summary>The reference's linear layers packed (e.g. bf16, see <c>FrozenCopy</c>); its forward then runs on them.
    /// Owned by the task from here on.</summary>
    public InferenceWeights? ReferenceWeights { get; init; }

    /// <param name="reference">The frozen reference (usually the SFT model); null only in reference-free mode or when every
    /// example already carries reference log-probs.</param>
    public DpoTask(ICausalLm policy, ICausalLm? reference, DpoConfig config, int padTokenId, Action<string>? saveExtras = null,
        bool ownsReference = true)
    {
        config.Validate();
        if (reference is not null && reference.Config.VocabSize != policy.Config.VocabSize)
            throw new ArgumentException($"The reference model's vocabulary ({reference.Config.VocabSize}) differs from the policy's ({policy.Config.VocabSize}); DPO needs both to score the same tokens.");
        Policy = policy;
        this.reference = reference;
        Config = config;
        PadTokenId = padTokenId;
        this.saveExtras = saveExtras;
        this.ownsReference = ownsReference;
    }

    /// <summary>
    /// Rows 2i and 2i+1 are example i's prompt+chosen and prompt+rejected, right-padded; labels are the response tokens.
    /// </summary>
    public static CausalLmBatch Collate(IReadOnlyList<DpoExample> examples, int padTokenId) =>
        RolloutBatch.Collate(examples.SelectMany(e => new[] { (e.PromptIds, e.ChosenIds), (e.PromptIds, e.RejectedIds) }).ToArray(), padTokenId);

    /// <summary>Σ over each row's targets of the per-token log-probs → one value per row.</summary>
    private static float[] SequenceSums(float[] tokenLogProbs, CausalLmBatch batch)
    {
        var sums = new float[batch.BatchSize];
        for (int i = 0; i < tokenLogProbs.Length; i++)
            if (batch.Targets[i] >= 0) sums[i / batch.SequenceLength] += tokenLogProbs[i];
        return sums;
    }

    /// <summary>
    /// Computes and stores the reference log-probs of every example. In a data-parallel job each rank computes every
    /// <paramref name="communicator"/>.Size-th chunk of <paramref name="batchSize"/> examples and one all-reduce shares
    /// them (each value has one non-zero term, so the sum is exact and every rank gets the same numbers).
    /// </summary>
    public IReadOnlyList<DpoExample> PrecomputeReferenceLogProbs(IReadOnlyList<DpoExample> examples, int batchSize,
        Distributed.ICommunicator? communicator = null)
    {
        if (Config.ReferenceFree) return examples;
        int rank = communicator?.Rank ?? 0, size = communicator?.Size ?? 1;
        var sums = new float[2 * examples.Count];
        for (int chunkIndex = 0, start = 0; start < examples.Count; chunkIndex++, start += batchSize)
        {
            if (chunkIndex % size != rank) continue;
            var chunk = examples.Skip(start).Take(batchSize).ToArray();
            ReferenceSums(chunk).CopyTo(sums, 2 * start);
        }
        if (size > 1) communicator!.AllReduceSum(sums);
        var result = new List<DpoExample>(examples.Count);
        for (int i = 0; i < examples.Count; i++)
            result.Add(examples[i] with { ReferenceChosen = sums[2 * i], ReferenceRejected = sums[2 * i + 1] });
        return result;
    }

    /// <summary>Drops the reference model (after precomputing its log-probs).</summary>
    public void ReleaseReference()
    {
        if (ownsReference) reference?.Dispose();
        reference = null;
        ReferenceWeights?.Dispose();
    }

    private float[] ReferenceSums(IReadOnlyList<DpoExample> examples)
    {
        if (reference is null) throw new InvalidOperationException("No reference model: precompute reference log-probs or use reference-free DPO.");
        arena.Reset();
        var batch = Collate(examples, PadTokenId);
        var logProbs = CausalLm.TokenLogProbs(reference, new Ops(arena, frozen), batch, trainable: false, packed: ReferenceWeights).Value.ToArray();
        return SequenceSums(logProbs, batch);
    }

    private (float[] Chosen, float[] Rejected) References(IReadOnlyList<DpoExample> examples)
    {
        if (Config.ReferenceFree) return ([], []);
        float[] sums = examples.All(e => e.ReferenceChosen is not null && e.ReferenceRejected is not null)
            ? examples.SelectMany(e => new[] { e.ReferenceChosen!.Value, e.ReferenceRejected!.Value }).ToArray()
            : ReferenceSums(examples);
        return (sums.Where((_, i) => i % 2 == 0).ToArray(), sums.Where((_, i) => i % 2 == 1).ToArray());
    }

    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<DpoExample>> microBatches) =>
        TrainStep(microBatches, GroupShard.All);

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<DpoExample>> microBatches, GroupShard shard)
    {
        int total = microBatches.Sum(b => b.Count); // pairs in the whole group, every rank's share included
        var sums = new Dictionary<string, double>();
        double tokens = 0;
        foreach (var (index, examples) in microBatches.Index())
        {
            if (!shard.Owns(index)) continue; // another rank's micro-batch (its reference log-probs too)
            var (refChosen, refRejected) = References(examples); // before the policy's forward: the arena is reset there
            arena.Reset();
            var batch = Collate(examples, PadTokenId);
            var logProbs = CausalLm.TokenLogProbs(Policy, new Ops(arena, tape), batch);
            var tokenLogProbs = logProbs.Value.ToArray();
            if (!SequenceSums(tokenLogProbs, batch).All(float.IsFinite) || !refChosen.Concat(refRejected).All(float.IsFinite))
            {
                // A diverged forward pass: no gradient from this step; the loop counts it as skipped (PITFALLS #9).
                tape.Clear();
                Parameters.ZeroGradients();
                return new Dictionary<string, double> { ["loss"] = double.NaN, ["tokens"] = tokens };
            }
            var (loss, rowGradient, metrics) = Loss(examples, batch, tokenLogProbs, refChosen, refRejected);
            float scale = (float)examples.Count / total;
            var gradient = logProbs.Gradient.Span;
            // ∂(Σ_t logp_t)/∂logp_t = 1 on each response token of the row.
            for (int i = 0; i < gradient.Length; i++)
                if (batch.Targets[i] >= 0) gradient[i] = rowGradient[i / batch.SequenceLength] * scale;
            tape.Backward();
            sums["loss"] = sums.GetValueOrDefault("loss") + loss * scale;
            foreach (var (name, value) in metrics) sums[name] = sums.GetValueOrDefault(name) + value * scale;
            tokens += batch.AttentionMask.Sum();
        }
        sums["tokens"] = tokens;
        return sums;
    }

    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<DpoExample> examples, int batchSize)
    {
        var sums = new Dictionary<string, double>();
        for (int start = 0; start < examples.Count; start += batchSize)
        {
            var chunk = examples.Skip(start).Take(batchSize).ToArray();
            var (refChosen, refRejected) = References(chunk);
            arena.Reset();
            var batch = Collate(chunk, PadTokenId);
            var logProbs = CausalLm.TokenLogProbs(Policy, new Ops(arena, frozen), batch, trainable: false).Value.ToArray();
            var (loss, _, metrics) = Loss(chunk, batch, logProbs, refChosen, refRejected);
            double weight = (double)chunk.Length / examples.Count;
            sums["loss"] = sums.GetValueOrDefault("loss") + loss * weight;
            foreach (var (name, value) in metrics) sums[name] = sums.GetValueOrDefault(name) + value * weight;
        }
        return sums;
    }

    /// <summary>
    /// DPO loss on sequence log-probs; returns ∂loss/∂(row's summed log-prob). IPO uses length-averaged log-probs
    /// (as TRL), so its gradient is divided by the response length.
    /// </summary>
    private (double Loss, float[] RowGradient, IReadOnlyDictionary<string, double> Metrics) Loss(IReadOnlyList<DpoExample> examples,
        CausalLmBatch batch, float[] tokenLogProbs, float[] refChosen, float[] refRejected)
    {
        var rows = SequenceSums(tokenLogProbs, batch);
        int n = examples.Count;
        var counts = new int[2 * n];
        for (int i = 0; i < batch.Targets.Length; i++) if (batch.Targets[i] >= 0) counts[i / batch.SequenceLength]++;
        foreach (var (count, row) in counts.Select((c, r) => (c, r)))
            if (count == 0) throw new ArgumentException($"Pair {row / 2} has an empty {(row % 2 == 0 ? "chosen" : "rejected")} response after truncation.");
        bool average = Config.LossType == DpoLossType.Ipo;
        float Scale(int row) => average ? 1f / counts[row] : 1f;
        var policyChosen = Enumerable.Range(0, n).Select(i => rows[2 * i] * Scale(2 * i)).ToArray();
        var policyRejected = Enumerable.Range(0, n).Select(i => rows[2 * i + 1] * Scale(2 * i + 1)).ToArray();
        var referenceChosen = refChosen.Select((v, i) => v * Scale(2 * i)).ToArray();
        var referenceRejected = refRejected.Select((v, i) => v * Scale(2 * i + 1)).ToArray();
        var chosenCounts = Enumerable.Range(0, n).Select(i => counts[2 * i]).ToArray();
        var result = DpoLosses.Compute(policyChosen, policyRejected, referenceChosen, referenceRejected, Config.LossOptions, chosenCounts);
        var gradient = new float[2 * n];
        for (int i = 0; i < n; i++)
        {
            gradient[2 * i] = result.DPolicyChosen[i] * Scale(2 * i);
            gradient[2 * i + 1] = result.DPolicyRejected[i] * Scale(2 * i + 1);
        }
        return (result.Loss, gradient, result.Metrics);
    }

    public void SaveModel(string directory)
    {
        Policy.Save(directory);
        saveExtras?.Invoke(directory);
    }

    public void LoadModel(string directory) => Policy.LoadWeights(directory);

    public void Dispose()
    {
        arena.Dispose();
        if (ownsReference) reference?.Dispose();
        ReferenceWeights?.Dispose();
    }
}
