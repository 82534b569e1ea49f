// BpeTrainer: vocabulary size, frequent words as single tokens, determinism, round trips, save/load.
using System.Diagnostics;
using Rlhf.Text;
using Rlhf.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Rlhf.Tests.Text;

public sealed class BpeTrainerTests(ITestOutputHelper output) : IDisposable
{
    private static readonly Lazy<string> Corpus = new(() => SyntheticText.Generate(2_000_000));
    private static readonly Lazy<BpeTokenizer> Trained = new(() => BpeTrainer.Train(Paragraphs(Corpus.Value), 2000, null));

    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private static IEnumerable<string> Paragraphs(string text) => text.Split("\n\n");

    [Fact]
    public void TrainsTwoThousandTokensOnTwoMegabytesQuickly()
    {
        var watch = Stopwatch.StartNew();
        var tokenizer = BpeTrainer.Train(Paragraphs(Corpus.Value), 2000, ["<|endoftext|>", "<|pad|>"]);
        watch.Stop();
        output.WriteLine($"trained 2000 tokens on {Corpus.Value.Length / 1e6:F1} M chars in {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(2000, tokenizer.VocabSize);
        Assert.Equal(1998 - 256, tokenizer.Merges.Count);
        Assert.Equal(1998, tokenizer.TokenToId("<|endoftext|>"));
        Assert.Equal(1999, tokenizer.TokenToId("<|pad|>"));
        Assert.Equal(1998, tokenizer.EosTokenId);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"training took {watch.Elapsed}");
    }

    [Fact]
    public void ReachesRequestedSizeWithBytesFirstAndSpecialLast()
    {
        var tokenizer = Trained.Value;
        Assert.Equal(2000, tokenizer.VocabSize);
        for (int id = 0; id < 256; id++)
        {
            Assert.Equal(ByteLevel.ByteToChar(ByteLevel.BytesInVocabularyOrder[id]).ToString(), tokenizer.IdToToken(id));
        }
        Assert.Equal("<|endoftext|>", tokenizer.IdToToken(1999));
        Assert.Equal(1999, tokenizer.EosTokenId);
        Assert.True(tokenizer.IsSpecialToken(1999));
        Assert.Equal([1999], tokenizer.Encode("<|endoftext|>"));
    }

    [Fact]
    public void FrequentWordsBecomeSingleTokens()
    {
        var tokenizer = Trained.Value;
        foreach (string word in new[] { " the", " of", " and", " water", " people", "The" })
        {
            Assert.Single(tokenizer.Encode(word));
        }
        Assert.True(tokenizer.Encode(Corpus.Value[..10_000]).Length < 10_000 / 3);
    }

    [Fact]
    public void RoundTripsTextInsideAndOutsideTheCorpus()
    {
        var tokenizer = Trained.Value;
        string[] texts =
        [
            Corpus.Value[..5000],
            "Unseen words: zyzzyva, quixotic; 日本語 👍🏽 tabs\tand  spaces\n\n  end   ",
            "I'm can't we'll 3.14159<|endoftext|>after",
        ];
        foreach (string text in texts) Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void TrainingIsDeterministic()
    {
        string text = SyntheticText.Generate(200_000, seed: 3);
        var a = BpeTrainer.Train([text], 600, null);
        var b = BpeTrainer.Train([text], 600, null);
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(a.Encode(text), b.Encode(text));
    }

    [Fact]
    public void TiesBreakByTokenStrings()
    {
        // "ab" and "cd" both occur twice; "a"+"b" sorts first, so it is merged first.
        var tokenizer = BpeTrainer.Train(["cd ab cd ab"], 256 + 2 + 1, null);
        Assert.Equal(("a", "b"), tokenizer.Merges[0]);
        Assert.Equal(("c", "d"), tokenizer.Merges[1]);
    }

    [Fact]
    public void StopsWhenPairsRunOut()
    {
        var tokenizer = BpeTrainer.Train(["abab"], 1000, [], minFrequency: 1);
        Assert.Equal([("a", "b")], BpeTrainer.Train(["abab"], 1000, []).Merges); // default minFrequency 2
        Assert.Equal([("a", "b"), ("ab", "ab")], tokenizer.Merges);
        Assert.Equal(258, tokenizer.VocabSize);
        Assert.Null(tokenizer.EosTokenId);
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["x"], 256, null));
    }

    [Fact]
    public void SpecialTokensInTrainingTextAreNotLearned()
    {
        var texts = Enumerable.Repeat("hello<|endoftext|>", 50);
        var tokenizer = BpeTrainer.Train(texts, 300, null);
        Assert.DoesNotContain(tokenizer.Merges, m => m.Left.Contains('|') || m.Right.Contains('|'));
        Assert.Equal([tokenizer.TokenToId("hello"), tokenizer.EosTokenId!.Value], tokenizer.Encode("hello<|endoftext|>"));
    }

    [Fact]
    public void SaveAndFromFolderRoundTrip()
    {
        var tokenizer = Trained.Value.WithPadToken("<|endoftext|>");
        tokenizer.Save(folder.Path);
        var loaded = BpeTokenizer.FromFolder(folder.Path);
        Assert.Equal(tokenizer.VocabSize, loaded.VocabSize);
        Assert.Equal(tokenizer.Merges, loaded.Merges);
        Assert.Equal(1999, loaded.EosTokenId);
        Assert.Equal(1999, loaded.PadTokenId);
        string sample = Corpus.Value[..20_000] + "<|endoftext|>" + "naïve 👍";
        Assert.Equal(tokenizer.Encode(sample), loaded.Encode(sample));

        File.Delete(folder.File("tokenizer.json"));
        var fromSlowFiles = BpeTokenizer.FromFolder(folder.Path);
        Assert.Equal(tokenizer.Encode(sample), fromSlowFiles.Encode(sample));
        Assert.Equal(1999, fromSlowFiles.PadTokenId);
    }
}
