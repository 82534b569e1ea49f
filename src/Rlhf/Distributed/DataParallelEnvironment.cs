// Whether this process was started by mpirun (its environment says so), and the job's communicator. A plain
// `rlhf …` never loads MPI: only the launcher's variables (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE) make it try.
namespace Rlhf.Distributed;

internal static class DataParallelEnvironment
{
    /// <summary>The variable naming the MPI library to load instead of libmpi.so.40.</summary>
    public const string LibraryVariable = "RLHF_MPI_LIBRARY";

    /// <summary>True when a launcher (Open MPI's mpirun, a PMI/PMIx launcher) started this process as one rank of a job.</summary>
    public static bool UnderLauncher(Func<string, string?> environment) =>
        new[] { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE" }.Any(name => !string.IsNullOrEmpty(environment(name)));

    /// <summary>Ranks on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, else 1): the cores are shared among them.</summary>
    public static int LocalRanks(Func<string, string?> environment) =>
        int.TryParse(environment("OMPI_COMM_WORLD_LOCAL_SIZE") ?? environment("MPI_LOCALNRANKS"), out int local) && local > 0 ? local : 1;

    /// <summary>Kernel threads per rank by default: the machine's cores divided among its ranks (at least one).</summary>
    public static int DefaultThreads(Func<string, string?> environment) => Math.Max(1, Environment.ProcessorCount / LocalRanks(environment));

    /// <summary>Initialises MPI (loads the library, MPI_Init_thread) for a process started by a launcher.</summary>
    public static MpiCommunicator Start(Func<string, string?> environment) =>
        new(MpiNative.Load(environment(LibraryVariable)));
}
