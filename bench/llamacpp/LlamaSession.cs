// One GGUF model loaded by llama.cpp (LLamaSharp): logits of a prompt, one decode step at a time, tokenization.
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Rlhf.Bench.LlamaCpp;

public sealed class LlamaSession : IDisposable
{
    private static readonly Lazy<string?> LoadFailure = new(() =>
    {
        try
        {
            NativeLibraryConfig.All.WithLogCallback((_, _) => { });
            NativeApi.llama_max_devices();
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException
            or LLama.Exceptions.RuntimeError or InvalidOperationException)
        {
            return e.Message;
        }
    });

    /// <summary>Why llama.cpp's native library cannot run here, or null when it can.</summary>
    public static string? Unavailable => LoadFailure.Value;

    private readonly LLamaWeights weights;
    private readonly LLamaContext? context;
    private readonly LLamaBatch batch = new();

    public int VocabSize { get; }

    /// <param name="exactCache">fp32 keys and values and no flash attention (to compare logits with ours); otherwise
    /// llama.cpp's defaults, its fastest settings.</param>
    /// <param name="vocabOnly">Load the vocabulary only (tokenization).</param>
    public LlamaSession(string ggufPath, int contextSize, int threads, int sequences = 1, bool exactCache = true, bool vocabOnly = false)
    {
        if (Unavailable is string reason) throw new InvalidOperationException($"llama.cpp cannot load: {reason}");
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextSize, Threads = threads, BatchThreads = threads, SeqMax = (uint)sequences, GpuLayerCount = 0,
            BatchSize = (uint)Math.Max(512, contextSize), UBatchSize = (uint)Math.Max(512, contextSize), VocabOnly = vocabOnly,
        };
        if (exactCache)
        {
            parameters.TypeK = GGMLType.GGML_TYPE_F32;
            parameters.TypeV = GGMLType.GGML_TYPE_F32;
            parameters.FlashAttention = false;
        }
        weights = LLamaWeights.LoadFromFile(parameters);
        VocabSize = weights.Vocab.Count;
        if (!vocabOnly) context = weights.CreateContext(parameters);
    }

    public IReadOnlyDictionary<string, string> Metadata => weights.Metadata;

    /// <summary>Token ids of <paramref name="text"/> by llama.cpp's vocabulary (special tokens parsed, no BOS added).</summary>
    public int[] Tokenize(string text) => [.. weights.Tokenize(text, false, true, Encoding.UTF8).Select(t => (int)t)];

    /// <summary>Forgets every sequence's cached keys and values.</summary>
    public void Clear() => Context.NativeHandle.MemoryClear(true);

    /// <summary>
    /// Runs tokens[s][i] for every sequence s at positions start[s] + i and returns the logits of the positions asked
    /// for (all when <paramref name="allLogits"/>, else each sequence's last): [rows][vocab].
    /// </summary>
    public float[][] Decode(IReadOnlyList<int[]> tokens, IReadOnlyList<int> start, bool allLogits)
    {
        batch.Clear();
        for (int s = 0; s < tokens.Count; s++)
            for (int i = 0; i < tokens[s].Length; i++)
                batch.Add(tokens[s][i], start[s] + i, (LLamaSeqId)s, allLogits || i == tokens[s].Length - 1);
        var result = Context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
        var rows = new List<float[]>();
        int index = 0;
        for (int s = 0; s < tokens.Count; s++)
            for (int i = 0; i < tokens[s].Length; i++, index++)
                if (allLogits || i == tokens[s].Length - 1) rows.Add(Context.NativeHandle.GetLogitsIth(index)[..VocabSize].ToArray());
        return [.. rows];
    }

    /// <summary>
    /// Greedy continuation of each prompt (one sequence each, decoded together): <paramref name="newTokens"/> ids per
    /// prompt; the KV cache is cleared first.
    /// </summary>
    public int[][] GenerateGreedy(IReadOnlyList<int[]> prompts, int newTokens)
    {
        Clear();
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        var logits = Decode(prompts, [.. prompts.Select(_ => 0)], allLogits: false);
        for (int step = 0; step < newTokens; step++)
        {
            var next = logits.Select(ArgMax).ToArray();
            for (int s = 0; s < prompts.Count; s++) generated[s].Add(next[s]);
            if (step == newTokens - 1) break;
            logits = Decode([.. next.Select(t => new[] { t })], [.. prompts.Select((p, s) => p.Length + step)], allLogits: false);
        }
        return [.. generated.Select(g => g.ToArray())];
    }

    /// <summary>The first index of the largest value (ties to the lowest id, as torch.argmax and ours).</summary>
    public static int ArgMax(float[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    private LLamaContext Context => context ?? throw new InvalidOperationException("This session loaded the vocabulary only.");

    public void Dispose()
    {
        context?.Dispose();
        weights.Dispose();
    }
}
