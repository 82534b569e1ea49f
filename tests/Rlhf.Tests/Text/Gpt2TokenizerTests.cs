// BpeTokenizer with the real GPT-2 vocabulary, checked against ids produced by the independent npm gpt-3-encoder.
using System.Text;
using System.Text.Json;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class Gpt2TokenizerTests
{
    internal static readonly Lazy<BpeTokenizer> Gpt2 = new(() =>
        BpeTokenizer.FromFiles(Fixtures.Path("gpt2_vocab", "vocab.json"), Fixtures.Path("gpt2_vocab", "merges.txt")));

    public static TheoryData<int> ReferenceIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < ReferenceEncodings().Count; i++) data.Add(i);
        return data;
    }

    internal static List<(string Text, int[] Ids)> ReferenceEncodings()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("gpt2_vocab", "encodings.json")));
        return [.. doc.RootElement.GetProperty("encodings").EnumerateArray().Select(e =>
            (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray()))];
    }

    [Fact]
    public void HelloWorld()
    {
        Assert.Equal([15496, 995], Gpt2.Value.Encode("Hello world"));
        Assert.Equal("Hello world", Gpt2.Value.Decode([15496, 995]));
    }

    [Fact]
    public void VocabularyAndNamedSpecialTokens()
    {
        var tokenizer = Gpt2.Value;
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal(50256, tokenizer.EosTokenId);
        Assert.Equal(50256, tokenizer.BosTokenId);
        Assert.Equal("<|endoftext|>", tokenizer.EosToken);
        Assert.Null(tokenizer.PadTokenId);
        Assert.Equal(995, tokenizer.TokenToId("Ġworld"));
        Assert.Equal("Ġworld", tokenizer.IdToToken(995));
        Assert.True(tokenizer.TryGetId("Hello", out int hello));
        Assert.Equal(15496, hello);
        Assert.False(tokenizer.TryGetId("no such token", out _));
        Assert.Throws<KeyNotFoundException>(() => tokenizer.TokenToId("no such token"));
        Assert.Equal(50000, tokenizer.Merges.Count);

        var padded = tokenizer.WithPadToken(tokenizer.EosToken);
        Assert.Equal(50256, padded.PadTokenId);
        Assert.Equal("<|endoftext|>", padded.PadToken);
        Assert.Null(tokenizer.PadTokenId);
        Assert.Throws<ArgumentException>(() => tokenizer.WithPadToken("<pad>"));
    }

    [Fact]
    public void BaseBytesFollowGpt2Order()
    {
        var order = ByteLevel.BytesInVocabularyOrder;
        for (int id = 0; id < 256; id++)
        {
            Assert.Equal(ByteLevel.ByteToChar(order[id]).ToString(), Gpt2.Value.IdToToken(id));
        }
    }

    [Fact]
    public void EndOfTextIsOneSpecialToken()
    {
        var tokenizer = Gpt2.Value;
        Assert.Equal([50256], tokenizer.Encode("<|endoftext|>"));
        Assert.True(tokenizer.IsSpecialToken(50256));
        int[] hello = tokenizer.Encode("Hello world");
        int[] ids = tokenizer.Encode("Hello world<|endoftext|> Hello world");
        Assert.Equal([.. hello, 50256, 18435, 995], ids);
        Assert.Equal("Hello world<|endoftext|> Hello world", tokenizer.Decode(ids));
        Assert.Equal("Hello world Hello world", tokenizer.Decode(ids, skipSpecialTokens: true));

        // Not allowed: encoded as the plain text "<|endoftext|>" (what gpt-3-encoder does).
        int[] plain = tokenizer.Encode("<|endoftext|>", allowSpecialTokens: false);
        Assert.Equal([27, 91, 437, 1659, 5239, 91, 29], plain);
        Assert.Equal("<|endoftext|>", tokenizer.Decode(plain));
    }

    [Theory]
    [MemberData(nameof(ReferenceIndices))]
    public void MatchesReferenceEncoder(int index)
    {
        var (text, expected) = ReferenceEncodings()[index];
        int[] ids = Gpt2.Value.Encode(text);
        Assert.Equal(expected, ids);
        Assert.Equal(text, Gpt2.Value.Decode(ids));
        Assert.Equal(expected, Gpt2.Value.Encode(text)); // second pass comes from the word cache
    }

    [Fact]
    public void WholeCorpusAtOnceMatchesReference()
    {
        // Concatenating corpus strings changes word boundaries, so compare with the per-string results
        // only through the round trip, and check the cache does not leak state between texts.
        var all = ReferenceEncodings();
        string joined = string.Join("<|endoftext|>", all.Select(e => e.Text));
        int[] ids = Gpt2.Value.Encode(joined);
        Assert.Equal(all.SelectMany((e, i) => i == 0 ? e.Ids : [50256, .. e.Ids]), ids);
        Assert.Equal(joined, Gpt2.Value.Decode(ids));
    }

    [Fact]
    public void RandomCodePointsRoundTrip()
    {
        var random = new Random(1234);
        var tokenizer = Gpt2.Value;
        for (int trial = 0; trial < 300; trial++)
        {
            var builder = new StringBuilder();
            int length = random.Next(0, 40);
            for (int i = 0; i < length; i++)
            {
                int kind = random.Next(5);
                int codePoint = kind switch
                {
                    0 => random.Next(0x20, 0x7F),
                    1 => random.Next(0, 0x20),
                    2 => random.Next(0x80, 0x800),
                    3 => random.Next(0x800, 0xD800),
                    _ => random.Next(0x10000, 0x110000), // a surrogate pair in UTF-16
                };
                builder.Append(char.ConvertFromUtf32(codePoint));
            }
            string text = builder.ToString();
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, allowSpecialTokens: false)));
        }
    }

    [Fact]
    public void RandomLatin1BytesRoundTrip()
    {
        var random = new Random(99);
        var tokenizer = Gpt2.Value;
        for (int trial = 0; trial < 200; trial++)
        {
            var bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            string text = Encoding.Latin1.GetString(bytes);
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void LongWordsAndWhitespaceRunsRoundTrip()
    {
        var tokenizer = Gpt2.Value;
        string[] texts =
        [
            new string(' ', 1000) + "x" + new string('\n', 300),
            string.Concat(Enumerable.Repeat("abcdefghij", 200)),
            string.Concat(Enumerable.Repeat("🎉", 300)),
        ];
        foreach (string text in texts) Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void DecodeRejectsUnknownIds()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2.Value.Decode([15496, 50257]));
        Assert.Contains("50257", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2.Value.Decode([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2.Value.IdToToken(60000));
    }

    [Fact]
    public void DecodeReplacesInvalidUtf8()
    {
        var tokenizer = Gpt2.Value;
        int[] ids = tokenizer.Encode("👍");
        Assert.True(ids.Length > 1); // the emoji's four bytes are split across tokens
        string partial = tokenizer.Decode(ids.AsSpan(0, ids.Length - 1));
        Assert.Contains('\uFFFD', partial);
        Assert.Equal("\uFFFD", tokenizer.Decode([ByteToken(tokenizer, 0xFF)]));
        Assert.Equal("a\uFFFDb", tokenizer.Decode([64, ByteToken(tokenizer, 0x80), 65]));
    }

    [Fact]
    public void ConcurrentEncodingAgreesWithSequential()
    {
        var tokenizer = BpeTokenizer.FromFiles(Fixtures.Path("gpt2_vocab", "vocab.json"), Fixtures.Path("gpt2_vocab", "merges.txt"));
        var texts = Enumerable.Range(0, 64).Select(i => SyntheticText.Generate(5_000, seed: i)).ToArray();
        var expected = texts.Select(t => Gpt2.Value.Encode(t)).ToArray();
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => actual[i] = tokenizer.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void HeapMergeAgreesWithGpt2Scan()
    {
        var tokenizer = Gpt2.Value;
        var random = new Random(5);
        string alphabet = "aabbcdeeefghiillmnnoorssttuy  .,=-_0123456789éü日本語";
        for (int trial = 0; trial < 200; trial++)
        {
            var word = new string(Enumerable.Range(0, random.Next(1, 400)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            byte[] bytes = Encoding.UTF8.GetBytes(word);
            int[] scan = bytes.Select(b => ByteToken(tokenizer, b)).ToArray();
            int[] heap = (int[])scan.Clone();
            int scanLength = tokenizer.MergeSymbolsByScanning(scan);
            int heapLength = tokenizer.MergeSymbolsWithHeap(heap);
            Assert.Equal(scan[..scanLength], heap[..heapLength]);
        }
    }

    internal static int ByteToken(BpeTokenizer tokenizer, byte value) => tokenizer.TokenToId(ByteLevel.ByteToChar(value).ToString());
}
