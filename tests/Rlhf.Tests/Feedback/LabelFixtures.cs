// Shared pieces of the labeling tests: a tiny model folder, a fast fake sampler, prompts and records.
using Rlhf.Feedback;
using Rlhf.Models;
using Rlhf.Text;

namespace Rlhf.Tests.Feedback;

internal static class LabelFixtures
{
    private static readonly string[] Sentences =
    [
        "the cat sat on the mat and looked at the dog",
        "a dog ran in the park with a red ball",
        "### Question: what is the capital of France?\n### Answer: Paris is the capital.",
        "be helpful, truthful and harmless when you answer a question",
    ];

    /// <summary>Writes a random 2-layer, 32-channel GPT-2 with a small trained BPE vocabulary to <paramref name="directory"/>.</summary>
    public static void WriteTinyModel(string directory)
    {
        var tokenizer = BpeTrainer.Train(Enumerable.Repeat(Sentences, 3).SelectMany(s => s), vocabSize: 320);
        int eos = tokenizer.EosTokenId!.Value;
        var config = new Gpt2Config
        {
            VocabSize = tokenizer.VocabSize, ContextLength = 128, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, BosTokenId = eos, EosTokenId = eos,
        };
        using var model = Gpt2Model.CreateRandom(config, seed: 3);
        new ModelFolder(model, tokenizer).Save(directory);
    }

    public static IReadOnlyList<LabelPrompt> Prompts(int count) =>
        Enumerable.Range(0, count).Select(i => LabelPrompt.Create($"question number {i}?")).ToArray();

    public static LabelingSession Session(string output, int prompts = 3, int k = 4, string annotator = "ann", IResponseSampler? sampler = null) =>
        new(Prompts(prompts), k, sampler ?? new FakeSampler(), new FeedbackStore(output), annotator, "tiny", new SamplingSettings { Seed = 7 });

    /// <summary>Deterministic responses "r{i} s{seed % 1000}" — distinct within a task, equal for equal seeds.</summary>
    public sealed class FakeSampler : IResponseSampler
    {
        public int Calls;

        public IReadOnlyList<string> Sample(string renderedPrompt, int count, ulong seed)
        {
            Interlocked.Increment(ref Calls);
            return Enumerable.Range(0, count).Select(i => $"r{i} s{seed % 1000}").ToArray();
        }
    }

    public static FeedbackRecord Record(string promptId, string annotator, string[] responses, int[][]? ties = null, string[][]? flags = null, int minute = 0) => new()
    {
        PromptId = promptId,
        Prompt = "p " + promptId,
        RenderedPrompt = "p " + promptId,
        Responses = responses,
        Ties = ties ?? [],
        Flags = flags ?? responses.Select(_ => Array.Empty<string>()).ToArray(),
        Annotator = annotator,
        Model = "tiny",
        Timestamp = new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero),
    };
}
