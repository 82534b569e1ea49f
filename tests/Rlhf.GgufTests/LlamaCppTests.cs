// Proof with the real client: llama.cpp (LLamaSharp 0.30.0, CPU backend) loads our GGUF files and computes what we
// compute. Skipped, with the reason, where the native library cannot load.
using Rlhf.Bench.LlamaCpp;
using Rlhf.Export;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Models.Generation;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Training;
using Xunit;

namespace Rlhf.GgufTests;

public sealed class LlamaCppTests
{
    private const int Threads = 2;

    private static void SkipWithoutLlamaCpp() =>
        Skip.If(LlamaSession.Unavailable is not null, $"llama.cpp's native library (LLamaSharp.Backend.Cpu) cannot load here: {LlamaSession.Unavailable}");

    [SkippableTheory]
    [InlineData(false, 1e-3)]
    [InlineData(true, 1e-4)]
    public void F32FileGreedyDecodesTokenForTokenAsOursWithCloseLogits(bool linearMlp, double tolerance)
    {
        // llama.cpp's CPU GELU reads a table indexed by the input rounded to fp16 (GGML_GELU_FP16): relative errors
        // of ~5e-4 per activation, which reach ~3e-3 on these logits (|logit| ≤ ~7). The tolerance of the full model is
        // therefore 1e-3 relative to the largest |logit|. With c_fc zeroed (GELU sees exact zeros, which the table
        // holds exactly) everything else — embeddings, LayerNorms, the fused q/k/v layout, attention, biases, the
        // tied head — must agree within 1e-4 absolute.
        SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var (folder, gguf) = GgufModels.Exported(temp, GgufOutType.F32, linearMlp);
        using var _ = folder;
        var prompt = folder.Tokenizer.Encode("### Question: What is the capital of France?\n### Answer:");
        const int newTokens = 24;

        var ours = Generator.Generate(folder.Model, [prompt], new GenerationOptions { MaxNewTokens = newTokens, EosTokenId = -1 })[0].Ids;
        using var llama = new LlamaSession(gguf, folder.Model.Config.ContextLength, Threads);
        var theirs = llama.GenerateGreedy([prompt], newTokens)[0];
        Assert.Equal(ours, theirs);
        Assert.True(ours.Distinct().Count() > 3, "the random model should not repeat one token (a weak comparison)");

        // Logits at every position of prompt + continuation: llama.cpp's prefill, then its one-token steps.
        var sequence = prompt.Concat(ours[..^1]).ToArray();
        var expected = GgufModels.Logits(folder.Model, sequence);
        llama.Clear();
        var actual = llama.Decode([prompt], [0], allLogits: true).ToList();
        for (int i = 0; i < ours.Length - 1; i++) actual.AddRange(llama.Decode([[ours[i]]], [prompt.Length + i], allLogits: false));
        double difference = GgufModels.MaxAbsDifference(expected, [.. actual]);
        double bound = linearMlp ? tolerance : tolerance * expected.Max(row => row.Max(Math.Abs));
        Assert.True(difference < bound, $"max |logit difference| {difference:G3} ≥ {bound:G3}");
    }

    [SkippableFact]
    public void BatchedSequencesDecodeLikeSingleOnes()
    {
        SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var (folder, gguf) = GgufModels.Exported(temp, GgufOutType.F32);
        using var _ = folder;
        var prompts = GgufModels.Corpus.Select(text => folder.Tokenizer.Encode(text)[..12]).ToArray();
        var ours = Generator.Generate(folder.Model, prompts, new GenerationOptions { MaxNewTokens = 10, EosTokenId = -1 }).Select(r => r.Ids).ToArray();
        using var llama = new LlamaSession(gguf, prompts.Length * folder.Model.Config.ContextLength, Threads, sequences: prompts.Length);
        Assert.Equal(ours, llama.GenerateGreedy(prompts, 10));
    }

    [SkippableTheory]
    [InlineData(nameof(GgufOutType.F16), 2e-2)]
    [InlineData(nameof(GgufOutType.BF16), 1e-1)]
    [InlineData(nameof(GgufOutType.Q8_0), 2.5e-1)]
    public void NarrowFilesLoadAndDecodeCloseToOurModelWithTheSameRoundedWeights(string outTypeName, double tolerance)
    {
        var outType = Enum.Parse<GgufOutType>(outTypeName);
        // llama.cpp also narrows the activations it multiplies these weights with (to f16, bf16 or q8_0 blocks), so
        // its logits match our rounded-weight model only to within the tolerance (|logit| ≤ ~7 here; measured: f16 0.005,
        // bf16 0.04, q8_0 0.15), yet clearly better than the fp32 model (0.008, 0.07, 0.22).
        SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var (folder, gguf) = GgufModels.Exported(temp, outType);
        using var _ = folder;
        var prompt = folder.Tokenizer.Encode("### Question: How do I boil an egg?\n### Answer:");

        using var llama = new LlamaSession(gguf, folder.Model.Config.ContextLength, Threads);
        Assert.Equal($"{GgufExporter.FileType(outType)}", llama.Metadata["general.file_type"]);
        var actual = llama.Decode([prompt], [0], allLogits: true);
        var exact = GgufModels.Logits(folder.Model, prompt);
        GgufModels.Dequantize(folder.Model, outType);
        var rounded = GgufModels.Logits(folder.Model, prompt);

        double toRounded = GgufModels.MaxAbsDifference(rounded, actual), toExact = GgufModels.MaxAbsDifference(exact, actual);
        Assert.True(toRounded < tolerance, $"{outType}: max |logit difference| to our rounded-weight model {toRounded:G3} ≥ {tolerance}");
        Assert.True(toRounded < 0.75 * toExact, $"{outType}: llama.cpp is not clearly closer to our rounded-weight model ({toRounded:G3}) than to the fp32 one ({toExact:G3}); were the weights narrowed as we round them?");
        Assert.Equal(6, llama.GenerateGreedy([prompt], 6)[0].Length);
    }

    [SkippableFact]
    public void TokenizationThroughLlamaCppsVocabularyEqualsOursOnGpt2sVocabulary()
    {
        SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        string folderPath = GgufModels.Gpt2VocabularyFolder(temp.Sub("model"));
        string gguf = temp.Sub("model.gguf");
        GgufExporter.Export(folderPath, gguf, GgufOutType.F32);
        var tokenizer = BpeTokenizer.FromFolder(folderPath);
        using var llama = new LlamaSession(gguf, 32, Threads, vocabOnly: true);
        Assert.Equal(tokenizer.VocabSize, llama.VocabSize);
        foreach (string text in VariedCorpus)
            Assert.True(tokenizer.Encode(text).SequenceEqual(llama.Tokenize(text)),
                $"{Show(text)}: ours [{string.Join(' ', tokenizer.Encode(text))}] vs llama.cpp [{string.Join(' ', llama.Tokenize(text))}]");
    }

    [SkippableFact]
    public void AddedTokensChatTemplateAndPaddedVocabularyReachLlamaCpp()
    {
        SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var (folder, gguf) = GgufModels.Exported(temp, GgufOutType.F32);
        using var _ = folder;
        using var llama = new LlamaSession(gguf, 64, Threads, vocabOnly: true);
        Assert.Equal(folder.Model.Config.VocabSize, llama.VocabSize);
        Assert.Equal(GgufModels.ChatTemplate, llama.Metadata["tokenizer.chat_template"]);
        Assert.Equal("gpt2", llama.Metadata["general.architecture"]);
        foreach (string text in VariedCorpus.Concat(["<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n", "a<|endoftext|>b <|im_end|>"]))
            Assert.True(folder.Tokenizer.Encode(text).SequenceEqual(llama.Tokenize(text)),
                $"{Show(text)}: ours [{string.Join(' ', folder.Tokenizer.Encode(text))}] vs llama.cpp [{string.Join(' ', llama.Tokenize(text))}]");
    }

    private static string Show(string text) => text.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);

    /// <summary>Contractions, numbers, punctuation runs, whitespace runs and line ends, accents, CJK, emoji, specials.</summary>
    private static readonly string[] VariedCorpus =
    [
        "Hello world",
        "The quick brown fox jumps over the lazy dog.",
        "I'm sure they're here; we've seen 'em, haven't we? It's John's and I'll say I'd know.",
        "Numbers: 3.14159, 42, 1,000,000 and 2025-12-01 at 23:59:59 (UTC+01:00).",
        "   leading spaces, trailing spaces   ",
        "tabs\tand\t\tnewlines\n\nand CRLF\r\nend\n",
        "multiple     spaces   between words",
        "Punctuation!!! ??? ... --- ((nested)) [brackets] {braces} <angle> @user #tag $5 %50 ^ & * _under_score_",
        "Ünïcödé: café, naïve, Zürich, São Paulo, Øresund, Ελληνικά, русский текст",
        "日本語のテキストと中文文本，还有한국어。",
        "Emoji: 😀👍🏽🎉 and ❤️ flags 🇫🇷",
        "code: def f(x):\n    return x**2  # square\n",
        "### Question: What is the capital of France?\n### Answer: Paris.<|endoftext|>",
        "<|endoftext|>start and end<|endoftext|>",
        "",
        " ",
        "\n",
        "a",
        "ſtrange ﬁ ligatures and ＦＵＬＬＷＩＤＴＨ",
    ];
}
