// Entry point of the `rlhf` command: builds the verbs and turns any failure into one clear message.
using System.CommandLine;
using Rlhf.Cli;
using Rlhf.Cli.Commands;

var root = new RootCommand("Rlhf.NET: align causal language models with human preferences (SFT, reward models, PPO, DPO).");
root.Options.Add(CommonOptions.Verbose);
root.Subcommands.Add(InitCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
return CommandRunner.Invoke(root, args);
