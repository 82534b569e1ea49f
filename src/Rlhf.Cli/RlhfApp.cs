// The `rlhf` command tree: one verb per pipeline step (see DESIGN §6).
using System.CommandLine;
using Rlhf.Cli.Commands;

namespace Rlhf.Cli;

internal static class RlhfApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Rlhf.NET: align causal language models with human preferences (SFT, reward models, PPO, DPO).");
        root.Options.Add(CommonOptions.Verbose);
        root.Options.Add(CommonOptions.AllowNonFiniteWeights);
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(TokenizeCommand.CreateTokenizer());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(SftCommand.Create());
        root.Subcommands.Add(RewardCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(DpoCommand.Create());
        root.Subcommands.Add(PpoCommand.Create());
        root.Subcommands.Add(GrpoCommand.CreateGrpo());
        root.Subcommands.Add(GrpoCommand.CreateRloo());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(LabelCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        return root;
    }

    /// <summary>Parses and runs a command line; returns the process exit code (non-zero on any error).</summary>
    public static int Run(string[] args) => DataParallelLaunch.Run(() => CommandRunner.Invoke(Build(), args));
}
