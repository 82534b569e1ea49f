// Proof with the real client for the Llama family: llama.cpp (LLamaSharp 0.30.0, CPU) runs our exported llama (GQA,
// untied head, Llama 3 rope scaling: the q/k row permutation and rope_freqs) and qwen2 (q/k/v biases, tied head, NEOX
// rotary) models as we do, and tokenizes with the Hub tokenizers' vocabularies as we do.
using Rlhf.Bench.LlamaCpp;
using Rlhf.Export;
using Rlhf.Models.Generation;
using Rlhf.Models.Llama;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Xunit;

namespace Rlhf.GgufTests;

public sealed class LlamaFamilyTests
{
    private const int Threads = 2;
    private const string Prompt = "### Question: What is the capital of France?\n### Answer:";

    private static (ModelFolder Folder, string Gguf) Exported(TempDirectory temp, string family, GgufOutType outType)
    {
        var tokenizer = LlamaGgufModels.Tokenizer(family == "qwen2" ? "qwen2" : "smollm2");
        var config = family == "qwen2" ? LlamaGgufModels.Qwen2(tokenizer.VocabSize + 3) : LlamaGgufModels.Llama(tokenizer.VocabSize + 3);
        string directory = LlamaGgufModels.Folder(temp.Sub("model"), config, tokenizer);
        string gguf = temp.Sub("model.gguf");
        GgufExporter.Export(directory, gguf, outType);
        return (ModelFolder.Load(directory), gguf);
    }

    [SkippableTheory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void F32FileGreedyDecodesTokenForTokenAsOursWithLogitsWithin1e3(string family)
    {
        LlamaCppTests.SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var (folder, gguf) = Exported(temp, family, GgufOutType.F32);
        using var _ = folder;
        var prompt = folder.Tokenizer.Encode(Prompt);
        const int newTokens = 24;

        using var llama = new LlamaSession(gguf, folder.Model.Config.ContextLength, Threads);
        Assert.Equal(family == "qwen2" ? "qwen2" : "llama", llama.Metadata["general.architecture"]);
        var (ours, theirs, difference, largest) = GgufModels.GreedyAndLogits(folder, llama, prompt, newTokens);
        Assert.Equal(ours, theirs);
        Assert.True(ours.Distinct().Count() > 3, "the random model should not repeat one token (a weak comparison)");
        Assert.True(difference < 1e-3, $"max |logit difference| {difference:G3} ≥ 1e-3 (largest |logit| {largest:G3})");
    }

    [SkippableTheory]
    [InlineData("llama", nameof(GgufOutType.F16), 6e-2, 0.85)]
    [InlineData("llama", nameof(GgufOutType.BF16), 6e-1, 0.85)]
    [InlineData("llama", nameof(GgufOutType.Q8_0), 1.5, 1.0)]
    [InlineData("qwen2", nameof(GgufOutType.F16), 6e-2, 0.85)]
    [InlineData("qwen2", nameof(GgufOutType.BF16), 6e-1, 0.85)]
    [InlineData("qwen2", nameof(GgufOutType.Q8_0), 1.5, 1.0)]
    public void NarrowFilesLoadAndDecodeCloseToOurModelWithTheSameRoundedWeights(string family, string outTypeName, double tolerance, double closer)
    {
        var outType = Enum.Parse<GgufOutType>(outTypeName);
        // llama.cpp also narrows the activations it multiplies these weights with (to f16, bf16 or q8_0 blocks), so its
        // logits match our rounded-weight model only within the tolerance (|logit| ≤ ~12 here; measured: f16 0.03,
        // bf16 0.16–0.37, q8_0 0.67–0.86), yet closer to it than to the fp32 model (f16 0.04, bf16 0.27–0.50,
        // q8_0 0.88–1.25). With q8_0 the activations' own q8_0 rounding is as large as the weights', hence only "closer".
        LlamaCppTests.SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var (folder, gguf) = Exported(temp, family, outType);
        using var _ = folder;
        var prompt = folder.Tokenizer.Encode(Prompt);

        using var llama = new LlamaSession(gguf, folder.Model.Config.ContextLength, Threads);
        var (toRounded, toExact, largest) = GgufModels.NarrowLogits(folder, llama, prompt, outType);
        Assert.True(toRounded < tolerance, $"{family} {outType}: max |logit difference| to our rounded-weight model {toRounded:G3} ≥ {tolerance} (to the fp32 model {toExact:G3}; largest |logit| {largest:G3})");
        Assert.True(toRounded < closer * toExact, $"{family} {outType}: llama.cpp is not clearly closer to our rounded-weight model ({toRounded:G3}) than to the fp32 one ({toExact:G3})");
    }

    [SkippableTheory]
    [InlineData("smollm2", "smollm")]
    [InlineData("qwen2", "qwen2")]
    [InlineData("llama3", "llama-bpe")]
    [InlineData("tinyllama", null)]
    [InlineData("llama2_metaspace", null)]
    public void TokenizationThroughLlamaCppsVocabularyEqualsOurs(string fixture, string? pre)
    {
        LlamaCppTests.SkipWithoutLlamaCpp();
        using var temp = new TempDirectory();
        var tokenizer = pre is null ? LlamaGgufModels.ConsistentSentencePiece(fixture, temp.Sub("tokenizer")) : LlamaGgufModels.Tokenizer(fixture);
        var config = LlamaGgufModels.Llama(tokenizer.VocabSize) with { LayerCount = 1, Hidden = 32, IntermediateSize = 32, HeadCount = 2, KeyValueHeadCount = 1 };
        string directory = LlamaGgufModels.Folder(temp.Sub("model"), config, tokenizer);
        string gguf = temp.Sub("model.gguf");
        GgufExporter.Export(directory, gguf, GgufOutType.F32);
        using var llama = new LlamaSession(gguf, 64, Threads, vocabOnly: true);
        Assert.Equal(pre is null ? "llama" : "gpt2", llama.Metadata["tokenizer.ggml.model"]);
        if (pre is not null) Assert.Equal(pre, llama.Metadata["tokenizer.ggml.pre"]);
        Assert.Equal(tokenizer.VocabSize, llama.VocabSize);
        var failures = new List<string>();
        foreach (string text in LlamaCppTests.VariedCorpus.Concat(Extra(fixture)))
        {
            // llama.cpp implements Llama 2's legacy form (Prepend "▁" to every piece between special tokens); the newer
            // Metaspace prepend_scheme "first" does not prepend to text that already starts with a space, nor after a
            // special token, so those texts differ there by design.
            if (fixture == "llama2_metaspace" && (text.StartsWith(' ') || text.Contains("<s>", StringComparison.Ordinal))) continue;
            int[] ours = tokenizer.Encode(text), theirs = llama.Tokenize(text);
            if (!ours.SequenceEqual(theirs)) failures.Add($"{LlamaCppTests.Show(text)}: ours [{string.Join(' ', ours)}] vs llama.cpp [{string.Join(' ', theirs)}]");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Chat markers and longer digit runs of each fixture's vocabulary.</summary>
    private static IEnumerable<string> Extra(string fixture) => fixture switch
    {
        "smollm2" or "qwen2" => ["<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n", "1234567890 0.5 +44 20 7946 0958"],
        "llama3" => ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>", "1234567890 0.5 +44 20 7946 0958"],
        _ => ["12345 and 0.5", "Hello <s> world </s>"],
    };
}
