// Entry point of the `rlhf` command.
return Rlhf.Cli.RlhfApp.Run(args);
