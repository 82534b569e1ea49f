// Damaged tokenizer files fail with one short message naming the file: bad text, absurd ids, missing merges, bad config values.
using System.Text;
using Rlhf.Models;
using Rlhf.Tests.Models;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class TokenizerInputErrorsTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private const string Vocab = """{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}""";
    private const string Merges = "#version: 0.2\na b\nab c\n";

    private string WriteFolder(string vocab = Vocab, string merges = Merges, string? config = null)
    {
        File.WriteAllText(folder.File("vocab.json"), vocab);
        File.WriteAllText(folder.File("merges.txt"), merges);
        if (config is not null) File.WriteAllText(folder.File("tokenizer_config.json"), config);
        return folder.Path;
    }

    private ModelFormatException Fails(string? vocab = null, string? merges = null, string? config = null) =>
        Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(WriteFolder(vocab ?? Vocab, merges ?? Merges, config)));

    [Fact]
    public void TheSmallFolderLoads()
    {
        var tokenizer = BpeTokenizer.FromFolder(WriteFolder(config: """{"model_max_length": 1000000000000000019884624838656}"""));
        Assert.Equal([4, 0], tokenizer.Encode("abca"));
        Assert.Equal(int.MaxValue, tokenizer.ModelMaxLength);
    }

    [Fact]
    public void HugeIdIsReportedNotOverflowed()
    {
        var error = Fails(vocab: """{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 2147483647}""");
        Assert.Equal(folder.File("vocab.json"), error.FilePath);
        Assert.Contains("'abc' has id 2,147,483,647", error.Message);
    }

    [Fact]
    public void InvalidUtf8AndLoneSurrogatesNameTheFile()
    {
        WriteFolder();
        File.WriteAllBytes(folder.File("vocab.json"), [.. Encoding.UTF8.GetBytes("{\"a\": 0, \""), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\": 1}")]);
        var utf8 = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Equal($"{folder.File("vocab.json")}: is not valid UTF-8 text", utf8.Message);

        var surrogate = Fails(vocab: """{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "\udc00x": 5}""");
        Assert.Equal(folder.File("vocab.json"), surrogate.FilePath);
        Assert.Contains("surrogate", surrogate.Message);
    }

    [Fact]
    public void EmptyMergesIsAnError()
    {
        var error = Fails(merges: "");
        Assert.Equal(folder.File("merges.txt"), error.FilePath);
        Assert.Contains("holds no merges", error.Message);
        // Only one multi-character token (a special token such as <|endoftext|>): no merges are needed.
        BpeTokenizer.FromFolder(WriteFolder(vocab: """{"a": 0, "b": 1, "<|endoftext|>": 2}""", merges: "#version: 0.2\n"));
    }

    [Fact]
    public void HugeTokensAreClippedInMessages()
    {
        string huge = new('x', 1_000_000);
        var error = Fails(merges: $"a b\n{huge} {huge} {huge}\n");
        Assert.Contains("line 2", error.Message);
        Assert.True(error.Message.Length < 400, $"message of {error.Message.Length} characters");
        var unknown = Fails(merges: $"a b\n{huge} c\n");
        Assert.Contains("1,000,000 characters", unknown.Message);
        Assert.True(unknown.Message.Length < 400, $"message of {unknown.Message.Length} characters");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("\"abc\"")]
    [InlineData("12.5")]
    public void BadModelMaxLengthIsAnError(string value)
    {
        var error = Fails(config: $$"""{"model_max_length": {{value}}}""");
        Assert.Equal(folder.File("tokenizer_config.json"), error.FilePath);
        Assert.Contains("model_max_length must be a whole number ≥ 1", error.Message);
    }

    [Fact]
    public void NonStringModelTypeInTokenizerJsonIsAnError()
    {
        File.WriteAllText(folder.File("tokenizer.json"), """{"model": {"type": 5, "vocab": {}, "merges": []}}""");
        var error = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Contains("model.type must be a string", error.Message);
    }

    /// <summary>An unknown pipeline type is named, clipped: a 5,000-character type does not become a 5,000-character message.</summary>
    [Theory]
    [InlineData("normalizer")]
    [InlineData("pre_tokenizer")]
    [InlineData("decoder")]
    [InlineData("post_processor")]
    public void HugeUnknownPipelineTypesAreClippedInMessages(string part)
    {
        string huge = new('x', 5_000);
        File.WriteAllText(folder.File("tokenizer.json"), $$$"""{"{{{part}}}": {"type": "{{{huge}}}"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}""");
        var error = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Contains("is not supported", error.Message);
        Assert.Contains("5,000 characters", error.Message);
        Assert.True(error.Message.Length < 400, $"message of {error.Message.Length} characters");
    }
}
