// The tokenizer.json kinds the Llama-family models ship (SmolLM2, Qwen2, Llama 3, TinyLlama / Llama 2, Metaspace
// Llama 2) against ids and decodings from transformers.js's tokenizer package (tools/reference/tokenizers/).
using System.Text.Json;
using Rlhf.Tests.Models;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class TokenizerKindsTests
{
    public static readonly string[] Kinds = ["smollm2", "qwen2", "llama3", "tinyllama", "llama2_metaspace"];

    private static readonly Dictionary<string, BpeTokenizer> Loaded = [];

    internal static BpeTokenizer Load(string kind)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(kind, out var tokenizer)) Loaded[kind] = tokenizer = BpeTokenizer.FromFolder(Fixtures.Path("tokenizers", kind));
            return tokenizer;
        }
    }

    internal sealed record Case(string Text, int[] Ids, int[] IdsWithSpecialTokens, string Decoded, string DecodedSkipSpecial);

    internal static List<Case> Cases(string kind)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("tokenizers", kind, "expected.json")));
        static int[] Ids(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetInt32())];
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("text").GetString()!, Ids(c.GetProperty("ids")), Ids(c.GetProperty("ids_with_special_tokens")),
            c.GetProperty("decoded").GetString()!, c.GetProperty("decoded_skip_special").GetString()!))];
    }

    public static TheoryData<string, int> AllCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string kind in Kinds)
        {
            for (int i = 0; i < Cases(kind).Count; i++) data.Add(kind, i);
        }
        return data;
    }

    /// <summary>Exact ids (tolerance: none) for encode(add_special_tokens=False/True) and both decodings.</summary>
    [Theory]
    [MemberData(nameof(AllCases))]
    public void MatchesTransformersJs(string kind, int index)
    {
        var tokenizer = Load(kind);
        var expected = Cases(kind)[index];
        Assert.Equal(expected.Ids, tokenizer.Encode(expected.Text));
        Assert.Equal(expected.IdsWithSpecialTokens, tokenizer.EncodeWithSpecialTokens(expected.Text));
        Assert.Equal(expected.Decoded, tokenizer.Decode(expected.Ids));
        Assert.Equal(expected.DecodedSkipSpecial, tokenizer.Decode(expected.Ids, skipSpecialTokens: true));
    }

    [Fact]
    public void SpecialTokensFromTheConfigs()
    {
        var llama3 = Load("llama3");
        Assert.Equal(llama3.TokenToId("<|begin_of_text|>"), llama3.BosTokenId);
        Assert.Equal(llama3.TokenToId("<|eot_id|>"), llama3.EosTokenId);
        Assert.Equal([llama3.BosTokenId!.Value], llama3.PrefixTokenIds);
        Assert.True(llama3.CleanUpTokenizationSpaces);

        var tiny = Load("tinyllama");
        Assert.Equal((1, 2, 0), (tiny.BosTokenId, tiny.EosTokenId, tiny.UnkTokenId));
        Assert.Null(tiny.PadTokenId);
        Assert.Equal(2048, tiny.ModelMaxLength);
        Assert.Equal([1], tiny.PrefixTokenIds);
        Assert.Empty(tiny.SuffixTokenIds);

        var qwen = Load("qwen2");
        Assert.Null(qwen.BosTokenId);
        Assert.Empty(qwen.PrefixTokenIds);
        Assert.False(qwen.IsSpecialToken(qwen.TokenToId("<tool_call>")));
    }

    public static TheoryData<string> KindNames() => [.. Kinds];

    /// <summary>Saving keeps the pipeline and the config's other keys: the saved folder encodes and decodes every case
    /// as the original, and no GPT-2 vocab.json/merges.txt (which would describe another pipeline) is written.</summary>
    [Theory]
    [MemberData(nameof(KindNames))]
    public void SavedFolderTokenizesTheSame(string kind)
    {
        using var folder = new TempFolder();
        var original = Load(kind);
        original.Save(folder.Path);
        var saved = BpeTokenizer.FromFolder(folder.Path);
        foreach (var c in Cases(kind))
        {
            Assert.Equal(c.Ids, saved.Encode(c.Text));
            Assert.Equal(c.IdsWithSpecialTokens, saved.EncodeWithSpecialTokens(c.Text));
            Assert.Equal(c.Decoded, saved.Decode(c.Ids));
        }
        Assert.Equal(original.AddedTokens, saved.AddedTokens);
        Assert.Equal((original.BosTokenId, original.EosTokenId, original.PadTokenId, original.UnkTokenId, original.ModelMaxLength),
            (saved.BosTokenId, saved.EosTokenId, saved.PadTokenId, saved.UnkTokenId, saved.ModelMaxLength));
        string config = File.ReadAllText(folder.File("tokenizer_config.json"));
        using var source = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("tokenizers", kind, "tokenizer_config.json")));
        Assert.Contains($"\"tokenizer_class\": \"{source.RootElement.GetProperty("tokenizer_class").GetString()}\"", config);
        Assert.False(File.Exists(folder.File("merges.txt")));
    }
}
