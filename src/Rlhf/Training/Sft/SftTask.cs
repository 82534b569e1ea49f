// Supervised fine-tuning: mean cross-entropy over response tokens (prompt tokens masked), as TRL's SFTTrainer
// with completion-only loss.
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Training.Sft;

internal sealed class SftTask : ITrainingTask<SftExample>, IDisposable
{
    private readonly Arena arena = new();
    private readonly Tape tape = new();
    private readonly Action<string>? saveExtras;

    public ICausalLm Model { get; }
    public int PadTokenId { get; }
    public ParameterSet Parameters => Model.Parameters;

    /// <param name="saveExtras">Writes what else belongs in a saved folder (tokenizer files, generation config).</param>
    public SftTask(ICausalLm model, int padTokenId, Action<string>? saveExtras = null)
    {
        Model = model;
        PadTokenId = padTokenId;
        this.saveExtras = saveExtras;
    }

    /// <summary>
    /// Loss = Σ over the group's response tokens of −log p / (number of those tokens), so splitting a batch into
    /// micro-batches (gradient accumulation) gives the same gradient as one large batch.
    /// </summary>
    public IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<SftExample>> microBatches)
    {
        var batches = microBatches.Select(b => SftCollator.Collate(b, PadTokenId)).ToArray();
        int totalTargets = batches.Sum(b => b.TargetCount);
        double loss = 0, tokens = 0;
        foreach (var batch in batches)
        {
            if (batch.TargetCount == 0) continue;
            arena.Reset();
            float scale = (float)batch.TargetCount / totalTargets;
            var node = CausalLm.Loss(Model, new Ops(arena, tape), batch, scale);
            loss += node.Value.Span[0];
            tape.Backward();
            tokens += batch.AttentionMask.Sum();
        }
        return new Dictionary<string, double> { ["loss"] = loss, ["tokens"] = tokens };
    }

    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<SftExample> examples, int batchSize)
    {
        double weighted = 0;
        long targets = 0;
        tape.Enabled = false;
        try
        {
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                var batch = SftCollator.Collate(examples.Skip(start).Take(batchSize).ToArray(), PadTokenId);
                if (batch.TargetCount == 0) continue;
                arena.Reset();
                float mean = CausalLm.Loss(Model, new Ops(arena, tape), batch, trainable: false).Value.Span[0];
                weighted += (double)mean * batch.TargetCount;
                targets += batch.TargetCount;
            }
        }
        finally
        {
            tape.Enabled = true;
        }
        return new Dictionary<string, double> { ["loss"] = targets == 0 ? double.NaN : weighted / targets };
    }

    public void SaveModel(string directory)
    {
        Model.Save(directory);
        saveExtras?.Invoke(directory);
    }

    public void LoadModel(string directory) => Model.LoadWeights(directory);

    public void Dispose() => arena.Dispose();
}
