// `rlhf tokenize --model DIR --file F --json [--add-special-tokens]` on folders holding only tokenizer files: the ids
// transformers.js gives (tests/fixtures/tokenizers/*/expected.json).
using System.Text.Json;
using Rlhf.Tests.Support;
using Rlhf.Tests.Text;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class TokenizeContractTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("tinyllama", 24)]
    [InlineData("llama3", 22)]
    [InlineData("qwen2", 16)]
    [InlineData("smollm2", 3)]
    public void PrintsTheIdsWithAndWithoutSpecialTokens(string kind, int index)
    {
        var expected = TokenizerKindsTests.Cases(kind)[index];
        string file = dir.Sub("input.txt");
        File.WriteAllText(file, expected.Text);
        string folder = Fixtures.Path("tokenizers", kind);

        var (code, output) = CliRun.Combined("tokenize", "--model", folder, "--file", file, "--json");
        Assert.Equal(0, code);
        Assert.Equal(expected.Ids, Ids(output));

        (code, output) = CliRun.Combined("tokenize", "--model", folder, "--file", file, "--json", "--add-special-tokens");
        Assert.Equal(0, code);
        Assert.Equal(expected.IdsWithSpecialTokens, Ids(output));
    }

    [Fact]
    public void ASentencePieceModelAloneIsRejectedNamingTheFileToBring()
    {
        string folder = dir.Sub("sp");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "tokenizer.model"), [0x0A, 0x00]);
        File.WriteAllText(dir.Sub("input.txt"), "hi");
        var (code, output) = CliRun.Combined("tokenize", "--model", folder, "--file", dir.Sub("input.txt"), "--json");
        Assert.NotEqual(0, code);
        Assert.Contains("tokenizer.model", output);
        Assert.Contains("tokenizer.json", output);
    }

    private static int[] Ids(string output) =>
        [.. JsonDocument.Parse(output).RootElement.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())];
}
