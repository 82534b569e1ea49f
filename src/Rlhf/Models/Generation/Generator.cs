// Batched autoregressive generation with a KV cache: left-padded prompts, per-row positions, EOS stopping.
using Rlhf.Tensors;

namespace Rlhf.Models.Generation;

internal static unsafe class Generator
{
    /// <summary>
    /// Continues every prompt. Prompts are left-padded to the longest (pads are masked out and do not count
    /// as positions), run through the model once to fill the cache, then one token per step is decoded for
    /// all rows until each has emitted EOS or <see cref="GenerationOptions.MaxNewTokens"/> tokens.
    /// Row b draws from its own generator seeded with (seed, b), so results do not depend on the batch's other rows.
    /// The matrices run packed for decoding: pass <paramref name="weights"/> (packed once, e.g. in bfloat16) when
    /// generating repeatedly from unchanged weights; otherwise they are packed in fp32 for this call.
    /// </summary>
    public static IReadOnlyList<GenerationResult> Generate(ICausalLm model, IReadOnlyList<int[]> prompts, GenerationOptions options,
        InferenceWeights? weights = null)
    {
        options.Validate();
        if (weights is not null && !ReferenceEquals(weights.Model, model))
            throw new ArgumentException("The packed inference weights belong to a different model.", nameof(weights));
        if (prompts.Count == 0) return [];
        // A model whose base is held packed (FrozenBaseWeights) runs on it; its LM head stays fp32.
        InferenceWeights? owned = weights is null && model.FrozenBaseWeights is null && InferenceWeights.Supported ? InferenceWeights.Pack(model) : null;
        try
        {
            return Run(model, prompts, options, weights ?? owned);
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static IReadOnlyList<GenerationResult> Run(ICausalLm model, IReadOnlyList<int[]> prompts, GenerationOptions options, InferenceWeights? weights)
    {
        var config = model.Config;
        int batch = prompts.Count;
        if (batch == 0) return [];
        int eos = options.EosTokenId ?? config.EosTokenId ?? -1;
        int pad = options.PadTokenId ?? config.PadTokenId ?? (eos >= 0 ? eos : 0);
        var stopIds = new HashSet<int>(options.EosTokenIds);
        if (eos >= 0) stopIds.Add(eos);
        var promptIds = prompts.Select(p => PreparePrompt(p, config, options)).ToArray();
        int promptLength = promptIds.Max(p => p.Length);
        int capacity = promptLength + options.MaxNewTokens;

        using var cache = model.CreateKvCache(batch, capacity);
        using var arena = new Arena();
        var tape = new Tape { Enabled = false };
        var rngs = Enumerable.Range(0, batch).Select(b => new Rng(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)b)).ToArray();
        var generated = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var logProbs = Enumerable.Range(0, batch).Select(_ => new List<float>()).ToArray();
        var done = new bool[batch];
        var nextPosition = promptIds.Select(p => p.Length).ToArray();

        // Prefill: [B, P] left-padded.
        var ids = new int[batch * promptLength];
        var positions = new int[batch * promptLength];
        var mask = new float[batch * promptLength];
        for (int b = 0; b < batch; b++)
        {
            int offset = promptLength - promptIds[b].Length;
            for (int t = 0; t < promptLength; t++)
            {
                int i = b * promptLength + t;
                bool real = t >= offset;
                ids[i] = real ? promptIds[b][t - offset] : pad;
                positions[i] = real ? t - offset : 0;
                mask[i] = real ? 1f : 0f;
            }
        }
        var logits = new float[batch * config.VocabSize];
        LastLogits(model, weights, arena, tape, cache, ids, positions, mask, batch, promptLength, logits);

        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            var next = new int[batch];
            // Rows choose independently (each has its own generator), so they run in parallel.
            Parallelism.For(batch, 2, (first, last) =>
            {
                for (int b = first; b < last; b++)
                {
                    if (done[b]) { next[b] = pad; continue; }
                    var row = logits.AsSpan(b * config.VocabSize, config.VocabSize);
                    int token;
                    float logProb;
                    if (options.DoSample)
                    {
                        Sampling.LogSoftmax(row, options.Temperature);
                        token = Sampling.Draw(row, Sampling.Allowed(row, options.TopK, options.TopP), rngs[b]);
                        logProb = row[token];
                    }
                    else
                    {
                        token = Sampling.ArgMax(row);
                        logProb = row[token] - Sampling.LogSumExp(row); // = log softmax(row)[token], without rewriting the row
                    }
                    next[b] = token;
                    generated[b].Add(token);
                    logProbs[b].Add(logProb);
                    if (stopIds.Contains(token)) done[b] = true;
                }
            });
            if (done.All(d => d) || step == options.MaxNewTokens - 1) break;
            var stepPositions = new int[batch];
            for (int b = 0; b < batch; b++) stepPositions[b] = Math.Min(nextPosition[b]++, config.ContextLength - 1);
            LastLogits(model, weights, arena, tape, cache, next, stepPositions, Enumerable.Repeat(1f, batch).ToArray(), batch, 1, logits);
        }
        return Enumerable.Range(0, batch)
            .Select(b => new GenerationResult(promptIds[b], [.. generated[b]], [.. logProbs[b]], done[b]))
            .ToArray();
    }

    private static int[] PreparePrompt(int[] prompt, CausalLmConfig config, GenerationOptions options)
    {
        foreach (int id in prompt)
            if ((uint)id >= (uint)config.VocabSize) throw new ArgumentOutOfRangeException(nameof(prompt), $"Token id {id} is outside the vocabulary of {config.VocabSize}.");
        int room = config.ContextLength - options.MaxNewTokens;
        if (prompt.Length <= room) return prompt;
        if (!options.TruncatePromptLeft || room <= 0)
            throw new ArgumentException($"A prompt of {prompt.Length} tokens plus {options.MaxNewTokens} new tokens exceeds the model's context of {config.ContextLength} positions; shorten it or allow left truncation.");
        return prompt[^room..];
    }

    /// <summary>Runs T new tokens per row through the model (appending to the cache) and writes the logits of each row's last one: [B, V].</summary>
    private static void LastLogits(ICausalLm model, InferenceWeights? weights, Arena arena, Tape tape, KvCache cache, int[] ids, int[] positions,
        float[] mask, int batch, int tokens, float[] logits)
    {
        arena.Reset();
        var ops = new Ops(arena, tape);
        var keyMask = arena.AllocateUninitialized(batch, tokens);
        mask.CopyTo(keyMask.Span);
        var hidden = model.Forward(ops, ids, positions, keyMask, batch, tokens, trainable: false, cache, weights);
        int channels = model.Config.HiddenSize, vocab = model.Config.VocabSize;
        var last = arena.AllocateUninitialized(batch, channels);
        for (int b = 0; b < batch; b++)
            hidden.Value.Span.Slice(((b + 1) * tokens - 1) * channels, channels).CopyTo(last.Span.Slice(b * channels, channels));
        fixed (float* output = logits)
        {
            if (weights is { HasLmHead: true }) weights.LmHead.Multiply(batch, last.Pointer, channels, output, vocab, null);
            else Gemm.Sgemm(false, true, batch, vocab, channels, 1f, last.Pointer, channels, model.LmHeadWeight(ops, trainable: false).Value.Pointer, channels, 0f, output, vocab);
        }
    }
}
