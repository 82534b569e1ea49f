// Runs the `rlhf` command in-process for CLI tests, capturing what it prints (tests using it join the "Console" collection).
using Rlhf.Cli;

namespace Rlhf.Tests.Support;

public static class CliRun
{
    /// <summary>Exit code, standard output and standard error, kept apart.</summary>
    public static (int Code, string Output, string Error) Separate(params string[] args)
    {
        var originalError = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            using var capture = new ConsoleCapture();
            int code = RlhfApp.Run(args);
            return (code, capture.Text, error.ToString());
        }
        finally
        {
            Console.SetError(originalError);
        }
    }

    /// <summary>Exit code and everything printed, standard error included (to check an error's wording).</summary>
    public static (int Code, string Output) Combined(params string[] args)
    {
        using var capture = new ConsoleCapture();
        var originalError = Console.Error;
        Console.SetError(capture.Writer);
        try
        {
            return (RlhfApp.Run(args), capture.Text);
        }
        finally
        {
            Console.SetError(originalError);
        }
    }
}
