// The MPI calls data-parallel training uses, bound to Open MPI's libmpi.so.40 at run time (nothing is loaded, and
// nothing needs installing, unless a run starts under mpirun). Open MPI's predefined handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, …) are addresses of exported globals (ompi_mpi_comm_world, …), as its mpi.h defines them.
using System.Runtime.InteropServices;

namespace Rlhf.Distributed;

internal sealed unsafe partial class MpiNative
{
    public const int ThreadSerialized = 2;   // MPI_THREAD_SERIALIZED in Open MPI's mpi.h
    public static readonly nint InPlace = 1; // MPI_IN_PLACE is (void *) 1 in Open MPI

    public nint Library { get; }
    public nint CommWorld { get; }
    public nint Float { get; }
    public nint Double { get; }
    public nint Byte { get; }
    public nint OpSum { get; }

    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<nint, int, int> Abort;

    private MpiNative(nint library)
    {
        Library = library;
        CommWorld = Export("ompi_mpi_comm_world");
        Float = Export("ompi_mpi_float");
        Double = Export("ompi_mpi_double");
        Byte = Export("ompi_mpi_byte");
        OpSum = Export("ompi_mpi_op_sum");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
    }

    private nint Export(string name) => NativeLibrary.TryGetExport(Library, name, out nint address) ? address
        : throw new MpiUnavailableException($"the MPI library has no '{name}': only Open MPI (4.x or later) is supported; install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and launch with its mpirun.");

    /// <summary>
    /// Loads libmpi with RTLD_GLOBAL, as Open MPI requires: its plugins (dlopen'ed at MPI_Init) resolve symbols from
    /// libmpi itself. <paramref name="path"/> overrides the library's name (RLHF_MPI_LIBRARY).
    /// </summary>
    public static MpiNative Load(string? path)
    {
        string[] candidates = path is { Length: > 0 } ? [path] : ["libmpi.so.40", "libmpi.so"];
        foreach (string candidate in candidates)
        {
            nint handle = Dlopen(candidate, RtldNow | RtldGlobal);
            if (handle != 0) return new MpiNative(handle);
        }
        throw new MpiUnavailableException($"this process was started by mpirun but the MPI library ({string.Join(" or ", candidates)}) could not be loaded: install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), or set RLHF_MPI_LIBRARY to its path.");
    }

    private const int RtldNow = 2, RtldGlobal = 0x100;

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Dlopen(string file, int mode);
}

/// <summary>A run under mpirun whose MPI library is missing or not Open MPI.</summary>
internal sealed class MpiUnavailableException(string message) : Exception(message);
