// Added-token flags transformers.js does not implement, checked by hand against tokenizers' (Rust) rules:
// single_word matches only between non-word characters; normalized tokens are found in the normalized text.
using System.Text.Json.Nodes;
using Rlhf.Tests.Models;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class AddedTokenFlagsTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private BpeTokenizer WithAddedToken(string kind, JsonObject token)
    {
        var json = JsonNode.Parse(File.ReadAllText(Fixtures.Path("tokenizers", kind, "tokenizer.json")))!.AsObject();
        json["added_tokens"]!.AsArray().Add(token);
        File.WriteAllText(folder.File("tokenizer.json"), json.ToJsonString());
        File.Copy(Fixtures.Path("tokenizers", kind, "tokenizer_config.json"), folder.File("tokenizer_config.json"), overwrite: true);
        return BpeTokenizer.FromFolder(folder.Path);
    }

    [Fact]
    public void SingleWordTokensMatchOnlyWholeWords()
    {
        var tokenizer = WithAddedToken("smollm2", new JsonObject { ["id"] = 5000, ["content"] = "wug", ["single_word"] = true, ["special"] = false, ["normalized"] = false });
        var plain = Load("smollm2");
        // "xwug" and "wugs": inside words, so ordinary text; " wug," and the final "wug": whole words.
        int[] ids = tokenizer.Encode("xwug wugs wug, wug");
        Assert.Equal(2, ids.Count(id => id == 5000));
        Assert.Equal([.. plain.Encode("xwug wugs "), 5000, .. plain.Encode(", "), 5000], ids);
    }

    [Fact]
    public void NormalizedTokensAreFoundInTheNormalizedText()
    {
        // TinyLlama's normalizer prepends "▁" and turns spaces into "▁": a normalized token "a b" is looked for as
        // "▁a▁b", so it matches in "x a b" ("▁x▁a▁b") but not in "xa b" ("▁xa▁b").
        var tokenizer = WithAddedToken("tinyllama", new JsonObject { ["id"] = 5000, ["content"] = "a b", ["special"] = false, ["normalized"] = true });
        int[] ids = tokenizer.Encode("x a b");
        Assert.Equal(5000, ids[^1]);
        Assert.Equal([.. Load("tinyllama").Encode("x"), 5000], ids);
        Assert.DoesNotContain(5000, tokenizer.Encode("xa b"));
    }

    private static BpeTokenizer Load(string kind) => TokenizerKindsTests.Load(kind);
}
