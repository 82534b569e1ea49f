// MPI_COMM_WORLD through MpiNative: the job mpirun started. Buffers larger than MPI's int count travel in chunks.
namespace Rlhf.Distributed;

internal sealed unsafe class MpiCommunicator : ICommunicator, IDisposable
{
    private const int MaxChunk = 1 << 28; // elements per call, well inside MPI's int count
    private readonly MpiNative mpi;
    private bool finalized;

    public int Rank { get; }
    public int Size { get; }

    public MpiCommunicator(MpiNative mpi)
    {
        this.mpi = mpi;
        int initialized = 0;
        Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            int provided = 0;
            Check(mpi.InitThread(null, null, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
        }
        int rank = 0, size = 0;
        Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        (Rank, Size) = (rank, size);
    }

    public void AllReduceSum(Span<float> values)
    {
        fixed (float* pointer = values)
            for (int start = 0; start < values.Length; start += MaxChunk)
                Check(mpi.Allreduce((void*)MpiNative.InPlace, pointer + start, Math.Min(MaxChunk, values.Length - start), mpi.Float, mpi.OpSum, mpi.CommWorld), "MPI_Allreduce");
    }

    public void AllReduceSum(Span<double> values)
    {
        fixed (double* pointer = values)
            for (int start = 0; start < values.Length; start += MaxChunk)
                Check(mpi.Allreduce((void*)MpiNative.InPlace, pointer + start, Math.Min(MaxChunk, values.Length - start), mpi.Double, mpi.OpSum, mpi.CommWorld), "MPI_Allreduce");
    }

    public byte[] AllGather(ReadOnlySpan<byte> block)
    {
        var all = new byte[block.Length * Size];
        fixed (byte* send = block)
        fixed (byte* receive = all)
            Check(mpi.Allgather(send, block.Length, mpi.Byte, receive, block.Length, mpi.Byte, mpi.CommWorld), "MPI_Allgather");
        return all;
    }

    public void Broadcast(Span<byte> data, int root = 0)
    {
        fixed (byte* pointer = data)
            for (int start = 0; start < data.Length; start += MaxChunk)
                Check(mpi.Bcast(pointer + start, Math.Min(MaxChunk, data.Length - start), mpi.Byte, root, mpi.CommWorld), "MPI_Bcast");
    }

    public void Broadcast(Span<float> data, int root = 0)
    {
        fixed (float* pointer = data)
            for (int start = 0; start < data.Length; start += MaxChunk)
                Check(mpi.Bcast(pointer + start, Math.Min(MaxChunk, data.Length - start), mpi.Float, root, mpi.CommWorld), "MPI_Bcast");
    }

    public void Barrier() => Check(mpi.Barrier(mpi.CommWorld), "MPI_Barrier");

    public void Abort(int exitCode)
    {
        mpi.Abort(mpi.CommWorld, exitCode);
        Environment.Exit(exitCode); // not reached: MPI_Abort ends the process
    }

    /// <summary>MPI_Finalize (once); every rank calls it at a clean end.</summary>
    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        mpi.Finalize();
    }

    // Open MPI's default error handler (MPI_ERRORS_ARE_FATAL) already ends the job on an error; this is belt and braces.
    private static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }
}
