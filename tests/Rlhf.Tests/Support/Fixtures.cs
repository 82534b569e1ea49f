// Locates committed test fixtures (copied beside the test assembly).
namespace Rlhf.Tests.Support;

public static class Fixtures
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);
}
