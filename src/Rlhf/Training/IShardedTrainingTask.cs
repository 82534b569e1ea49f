// Data parallelism's view of a step: a global group of micro-batches (ranks × accumulation), of which this rank runs
// every Size-th one. Tasks normalise by the whole group (tokens, pairs) so the ranks' gradients simply add up.
namespace Rlhf.Training;

/// <summary>Which micro-batches of a global group this rank runs: those whose index ≡ <see cref="Rank"/> (mod <see cref="Size"/>).</summary>
internal readonly record struct GroupShard(int Rank, int Size)
{
    /// <summary>One process running the whole group.</summary>
    public static GroupShard All => new(0, 1);

    /// <summary>Whether this rank runs micro-batch <paramref name="index"/> of the group.</summary>
    public bool Owns(int index) => index % Size == Rank;
}

/// <summary>A task that can run its share of a group in a data-parallel job (see <see cref="GroupShard"/>).</summary>
internal interface IShardedTrainingTask<TExample> : ITrainingTask<TExample>
{
    /// <summary>
    /// As <see cref="ITrainingTask{TExample}.TrainStep"/>, running only the micro-batches <paramref name="shard"/> owns,
    /// each scaled by its share of the whole group; the metrics are this rank's shares too (they sum to the group's).
    /// </summary>
    IReadOnlyDictionary<string, double> TrainStep(IReadOnlyList<IReadOnlyList<TExample>> microBatches, GroupShard shard);
}

/// <summary>
/// A self-stepping task (PPO) that shares its work across the ranks itself; the loop gives it the job's communicator
/// and sums the gradients across ranks inside every <c>update</c>, before clipping.
/// </summary>
internal interface IDataParallelSelfSteppingTask
{
    Distributed.ICommunicator Communicator { set; }
}
