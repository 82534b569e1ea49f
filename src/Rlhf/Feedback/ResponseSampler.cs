// Draws the K responses an annotator compares: one batched generation call, K rows of the same prompt.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Text;
using Rlhf.Training;

namespace Rlhf.Feedback;

/// <summary>Produces K candidate responses for a rendered prompt (the model, or a stand-in in tests).</summary>
internal interface IResponseSampler
{
    /// <summary>K responses to <paramref name="renderedPrompt"/>; the same seed gives the same responses.</summary>
    IReadOnlyList<string> Sample(string renderedPrompt, int count, ulong seed);
}

/// <summary>
/// Samples from a model folder: the K rows share the prompt and differ by their per-row generator. One generation
/// runs at a time. Dispose it before the model: disposing waits for a generation in progress (e.g. a background
/// pre-generation) and makes later calls throw <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class ModelResponseSampler(ModelFolder folder, SamplingSettings settings) : IResponseSampler, IDisposable
{
    private readonly Lock gate = new();
    private bool disposed;
    private InferenceWeights? packed; // packed on first use: the weights do not change while labeling

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            packed?.Dispose();
            packed = null;
        }
    }

    public IReadOnlyList<string> Sample(string renderedPrompt, int count, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int[] promptIds = folder.Tokenizer.Encode(renderedPrompt);
        var options = new GenerationOptions
        {
            MaxNewTokens = settings.MaxNewTokens,
            DoSample = settings.Temperature > 0,
            Temperature = settings.Temperature > 0 ? settings.Temperature : 1f,
            TopP = settings.TopP,
            Seed = seed,
            EosTokenId = folder.EosTokenId,
            PadTokenId = folder.PadTokenId,
            TruncatePromptLeft = true,
        };
        IReadOnlyList<GenerationResult> results;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (packed is null && InferenceWeights.Supported) packed = InferenceWeights.Pack(folder.Model);
            results = Generator.Generate(folder.Model, Enumerable.Repeat(promptIds, count).ToArray(), options, packed);
        }
        return results.Select(r => folder.Tokenizer.Decode(r.EndedWithEos ? r.Ids.AsSpan(0, r.Ids.Length - 1) : r.Ids)).ToArray();
    }
}
