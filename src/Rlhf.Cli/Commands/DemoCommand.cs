// `rlhf demo`: placeholder registration; the full pipeline demo is built in its own issue.
using System.CommandLine;

namespace Rlhf.Cli.Commands;

public static class DemoCommand
{
    public static Command Create() => new("demo", "Run the whole pipeline on built-in data.");
}
