// Captures Console.Out for CLI tests; tests using it run in one non-parallel collection.
using Xunit;

namespace Rlhf.Tests.Support;

[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;

public sealed class ConsoleCapture : IDisposable
{
    private readonly TextWriter original = Console.Out;
    private readonly StringWriter buffer = new();

    public ConsoleCapture() => Console.SetOut(buffer);

    public string Text => buffer.ToString();

    /// <summary>The capturing writer (e.g. to capture Console.Error into the same text).</summary>
    public TextWriter Writer => buffer;

    public void Dispose() => Console.SetOut(original);
}
