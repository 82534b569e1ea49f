// The few collective operations data-parallel training needs (MPI's names): every rank calls each one in the same
// order; a rank that fails ends the whole job (MPI_Abort), so no rank waits forever.
namespace Rlhf.Distributed;

/// <summary>The processes of one data-parallel job: this process's rank among <see cref="Size"/> ranks.</summary>
internal interface ICommunicator
{
    /// <summary>This process's rank, 0 … <see cref="Size"/> − 1 (rank 0 alone writes files and prints).</summary>
    int Rank { get; }

    /// <summary>Number of ranks in the job (1 without MPI).</summary>
    int Size { get; }

    /// <summary>Element-wise sum over all ranks, in place (every rank receives the result).</summary>
    void AllReduceSum(Span<float> values);

    /// <inheritdoc cref="AllReduceSum(Span{float})"/>
    void AllReduceSum(Span<double> values);

    /// <summary>Every rank's <paramref name="block"/> (all of the same length), concatenated in rank order.</summary>
    byte[] AllGather(ReadOnlySpan<byte> block);

    /// <summary>Copies rank <paramref name="root"/>'s bytes into every other rank's <paramref name="data"/>.</summary>
    void Broadcast(Span<byte> data, int root = 0);

    /// <inheritdoc cref="Broadcast(Span{byte}, int)"/>
    void Broadcast(Span<float> data, int root = 0);

    /// <summary>Waits until every rank has arrived.</summary>
    void Barrier();

    /// <summary>Ends every rank of the job at once with <paramref name="exitCode"/> (after a failure on this rank).</summary>
    void Abort(int exitCode);
}

/// <summary>The one process of a run without MPI: every collective is the identity.</summary>
internal sealed class SingleProcess : ICommunicator
{
    /// <summary>The shared instance.</summary>
    public static SingleProcess Instance { get; } = new();

    private SingleProcess() { }

    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) { }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) { }

    /// <inheritdoc/>
    public byte[] AllGather(ReadOnlySpan<byte> block) => block.ToArray();

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root = 0) { }

    /// <inheritdoc/>
    public void Broadcast(Span<float> data, int root = 0) { }

    /// <inheritdoc/>
    public void Barrier() { }

    /// <inheritdoc/>
    public void Abort(int exitCode) => Environment.Exit(exitCode);
}
