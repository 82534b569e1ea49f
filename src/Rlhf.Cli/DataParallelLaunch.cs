// A command started by mpirun runs as one rank of a data-parallel job: MPI is initialised first, ranks other than 0
// print nothing, and a failing rank ends the whole job (MPI_Abort) so no rank waits forever in a collective.
// A plain `rlhf …` (no launcher in the environment) never loads MPI.
using Rlhf.Distributed;
using Spectre.Console;

namespace Rlhf.Cli;

internal static class DataParallelLaunch
{
    /// <summary>The job this process belongs to (this process alone without mpirun).</summary>
    public static ICommunicator Job { get; private set; } = SingleProcess.Instance;

    private static readonly TimeSpan RankZeroGrace = TimeSpan.FromSeconds(3);

    public static int Run(Func<int> command)
    {
        Func<string, string?> environment = Environment.GetEnvironmentVariable;
        if (!DataParallelEnvironment.UnderLauncher(environment)) return command();
        MpiCommunicator mpi;
        try
        {
            mpi = DataParallelEnvironment.Start(environment);
        }
        catch (MpiUnavailableException error)
        {
            CliConsole.ForError().MarkupLine($"[red]error:[/] {Markup.Escape(error.Message)}");
            return 1;
        }
        Job = mpi;
        if (mpi.Rank != 0) Console.SetOut(TextWriter.Null);
        int code;
        try
        {
            code = command();
        }
        catch (Exception)
        {
            code = 1;
        }
        // A finished or interrupted (Ctrl-C reaches every rank at the same step) run ends cleanly; a failure ends all.
        // Another rank gives rank 0 a moment first: when all fail together (a refused start), rank 0's message names
        // the problem, and an abort from elsewhere would kill it before it is printed.
        if (code is not (0 or Commands.TrainingRunner.InterruptedExitCode))
        {
            if (mpi.Rank != 0) Thread.Sleep(RankZeroGrace);
            mpi.Abort(code);
        }
        mpi.Dispose();
        return code;
    }
}
