// Loading and saving tokenizer folders: tokenizer.json (hand-built and round-tripped), configs, and file errors.
using Rlhf.Models;
using Rlhf.Tests.Models;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class TokenizerFilesTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private static BpeTokenizer Gpt2 => Gpt2TokenizerTests.Gpt2.Value;

    /// <summary>A tiny byte-level BPE: bytes 'a', 'b', 'c', 'Ġ' (space), merges a+b, ab+c, Ġ+abc; one special token.</summary>
    private const string SmallTokenizerJson = """
        {
          "version": "1.0",
          "added_tokens": [
            {"id": 7, "content": "<eos>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 8, "content": "[note]", "special": false}
          ],
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
          "decoder": {"type": "ByteLevel"},
          "model": {
            "type": "BPE",
            "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5, "Ġabc": 6},
            "merges": ["a b", ["ab", "c"], "Ġ abc"]
          }
        }
        """;

    [Fact]
    public void FromTokenizerJsonReadsHandBuiltFile()
    {
        File.WriteAllText(folder.File("tokenizer.json"), SmallTokenizerJson);
        var tokenizer = BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json"));
        Assert.Equal(9, tokenizer.VocabSize);
        Assert.Equal([("a", "b"), ("ab", "c"), ("Ġ", "abc")], tokenizer.Merges);
        Assert.Equal([5, 6, 3, 4], tokenizer.Encode("abc abc ab"));
        Assert.Equal([5, 7, 0, 8, 2], tokenizer.Encode("abc<eos>a[note]c"));
        Assert.Equal("abc<eos>a[note]c", tokenizer.Decode([5, 7, 0, 8, 2]));
        Assert.True(tokenizer.IsSpecialToken(7));
        Assert.False(tokenizer.IsSpecialToken(8));
        Assert.Null(tokenizer.EosTokenId); // no <|endoftext|> and no config naming one

        // Not allowing special tokens: "<eos>" is plain text, but its characters are not in this tiny vocabulary.
        Assert.DoesNotContain(7, tokenizer.Encode("<eos>", allowSpecialTokens: false));
        Assert.Contains(8, tokenizer.Encode("[note]", allowSpecialTokens: false));
    }

    [Fact]
    public void FromFolderAppliesTokenizerConfig()
    {
        File.WriteAllText(folder.File("tokenizer.json"), SmallTokenizerJson);
        File.WriteAllText(folder.File("tokenizer_config.json"),
            """{"eos_token": {"content": "<eos>"}, "pad_token": "<eos>", "bos_token": null, "model_max_length": 1000000000000000019884624838656}""");
        var tokenizer = BpeTokenizer.FromFolder(folder.Path);
        Assert.Equal(7, tokenizer.EosTokenId);
        Assert.Equal(7, tokenizer.PadTokenId);
        Assert.Null(tokenizer.BosTokenId);
        Assert.Equal(int.MaxValue, tokenizer.ModelMaxLength);

        File.WriteAllText(folder.File("tokenizer_config.json"), """{"eos_token": "<missing>"}""");
        var error = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("tokenizer_config.json"), error.FilePath);
        Assert.Contains("<missing>", error.Message);
    }

    [Fact]
    public void SpecialTokensMapIsAFallback()
    {
        File.WriteAllText(folder.File("tokenizer.json"), SmallTokenizerJson);
        File.WriteAllText(folder.File("special_tokens_map.json"), """{"eos_token": "<eos>", "pad_token": "[note]"}""");
        var tokenizer = BpeTokenizer.FromFolder(folder.Path);
        Assert.Equal(7, tokenizer.EosTokenId);
        Assert.Equal(8, tokenizer.PadTokenId);
        Assert.True(tokenizer.IsSpecialToken(8)); // a named special token becomes special
    }

    [Fact]
    public void Gpt2SaveThenFromFolderEncodesIdentically()
    {
        var tokenizer = Gpt2.WithPadToken("<|endoftext|>");
        tokenizer.Save(folder.Path);
        foreach (string name in new[] { "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
        {
            Assert.True(File.Exists(folder.File(name)), name);
        }
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp-*"));
        Assert.Equal("#version: 0.2", File.ReadLines(folder.File("merges.txt")).First());
        Assert.Equal(File.ReadAllLines(Fixtures.Path("gpt2_vocab", "merges.txt")).Skip(1).Where(l => l.Length > 0),
            File.ReadAllLines(folder.File("merges.txt")).Skip(1));

        var loaded = BpeTokenizer.FromFolder(folder.Path); // from tokenizer.json
        var fromJson = BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json"));
        var fromFiles = BpeTokenizer.FromFiles(folder.File("vocab.json"), folder.File("merges.txt"));
        Assert.Equal(50257, loaded.VocabSize);
        Assert.Equal(50256, loaded.EosTokenId);
        Assert.Equal(50256, loaded.PadTokenId);
        Assert.Equal(1024, loaded.ModelMaxLength);
        foreach (var (text, ids) in Gpt2TokenizerTests.ReferenceEncodings())
        {
            Assert.Equal(ids, loaded.Encode(text));
            Assert.Equal(ids, fromJson.Encode(text));
            Assert.Equal(ids, fromFiles.Encode(text));
        }
        Assert.Equal([15496, 50256], loaded.Encode("Hello<|endoftext|>"));

        string config = File.ReadAllText(folder.File("tokenizer_config.json"));
        Assert.Contains("\"tokenizer_class\": \"GPT2Tokenizer\"", config);
        Assert.Contains("\"pad_token\": \"<|endoftext|>\"", config);
        string json = File.ReadAllText(folder.File("tokenizer.json"));
        Assert.Contains("\"type\": \"ByteLevel\"", json);
        Assert.Contains("\"Ġ t\"", json);
    }

    [Fact]
    public void MissingFilesNameTheFile()
    {
        var empty = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Contains("tokenizer.json", empty.Message);

        File.WriteAllText(folder.File("vocab.json"), """{"a": 0}""");
        var noMerges = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("merges.txt"), noMerges.FilePath);

        var noVocab = Assert.Throws<ModelFormatException>(() =>
            BpeTokenizer.FromFiles(folder.File("absent.json"), folder.File("merges.txt")));
        Assert.Equal(folder.File("absent.json"), noVocab.FilePath);
        Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromTokenizerJson(folder.File("absent.json")));
        Assert.Throws<DirectoryNotFoundException>(() => BpeTokenizer.FromFolder(folder.File("no-such-folder")));
    }

    [Fact]
    public void CorruptFilesNameTheFileAndLine()
    {
        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2""");
        File.WriteAllText(folder.File("merges.txt"), "#version: 0.2\na b\n");
        var badJson = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("vocab.json"), badJson.FilePath);

        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2}""");
        File.WriteAllText(folder.File("merges.txt"), "#version: 0.2\na b\na b c\n");
        var badLine = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("merges.txt"), badLine.FilePath);
        Assert.Contains("line 3", badLine.Message);

        File.WriteAllText(folder.File("merges.txt"), "#version: 0.2\na b\nab x\n");
        var unknown = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Contains("line 3", unknown.Message);
        Assert.Contains("'x'", unknown.Message);

        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": "one"}""");
        var badId = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("vocab.json"), badId.FilePath);

        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": 0}""");
        var sharedId = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFiles(folder.File("vocab.json"), folder.File("merges.txt")));
        Assert.Contains("id 0", sharedId.Message);
    }

    [Fact]
    public void TokenizerJsonRejectsOtherModels()
    {
        File.WriteAllText(folder.File("tokenizer.json"), """{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}""");
        var unigram = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json")));
        Assert.Contains("Unigram", unigram.Message);
        Assert.Equal(folder.File("tokenizer.json"), unigram.FilePath);

        File.WriteAllText(folder.File("tokenizer.json"), """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}}""");
        var badMerge = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json")));
        Assert.Contains("model.merges[0]", badMerge.Message);

        File.WriteAllText(folder.File("tokenizer.json"),
            """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "continuing_subword_prefix": "##"}}""");
        Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json")));

        // Pipeline steps this tokenizer does not implement are named with the file, never run differently.
        foreach (var (section, json, name) in new[]
        {
            ("pre_tokenizer", """{"type": "BertPreTokenizer"}""", "BertPreTokenizer"),
            ("normalizer", """{"type": "Precompiled", "precompiled_charsmap": ""}""", "Precompiled"),
            ("decoder", """{"type": "WordPiece", "prefix": "##"}""", "WordPiece"),
            ("post_processor", """{"type": "Mystery"}""", "Mystery"),
            ("pre_tokenizer", """{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}""", "ByteLevel must be the last"),
        })
        {
            File.WriteAllText(folder.File("tokenizer.json"),
                $$$"""{"{{{section}}}": {{{json}}}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
            var error = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json")));
            Assert.Contains(name, error.Message);
            Assert.Equal(folder.File("tokenizer.json"), error.FilePath);
        }
    }

    [Fact]
    public void SaveOverwritesAtomicallyAndKeepsAddedTokens()
    {
        File.WriteAllText(folder.File("tokenizer.json"), SmallTokenizerJson);
        var tokenizer = BpeTokenizer.FromTokenizerJson(folder.File("tokenizer.json")).WithSpecialTokens("<eos>", null, null, "<eos>");
        string output = Path.Combine(folder.Path, "saved");
        tokenizer.Save(output);
        tokenizer.Save(output); // overwriting an existing folder
        var loaded = BpeTokenizer.FromFolder(output);
        Assert.Equal(tokenizer.AddedTokens, loaded.AddedTokens);
        Assert.Equal(7, loaded.EosTokenId);
        Assert.Equal(7, loaded.PadTokenId);
        Assert.Null(loaded.BosTokenId);
        Assert.Equal(tokenizer.Encode("abc<eos>[note] abc"), loaded.Encode("abc<eos>[note] abc"));
    }
}
