// The public entry point for a causal language model and its tokenizer (what `rlhf` calls a model folder): load a
// Hugging Face folder or make a small random one, tokenize, generate, save.
using Rlhf.Models.Gpt2;
using Rlhf.Models.Generation;
using Rlhf.Text;
using Rlhf.Training;

namespace Rlhf;

/// <summary>
/// A causal language model with its tokenizer and generation defaults: a Hugging Face model folder (GPT-2 or the
/// Llama family) in memory. Load one with <see cref="Load"/> or create a small random one with
/// <see cref="CreateRandom"/>; trainers update it in place; <see cref="Save"/> writes a folder transformers loads.
/// Dispose it to free its native memory; any use after that throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    private readonly ModelFolder folder;
    private bool disposed;

    private LanguageModel(ModelFolder folder) => this.folder = folder;

    internal ModelFolder Folder
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return folder;
        }
    }

    /// <summary>The model family as config.json names it: "gpt2", "llama", "qwen2" …</summary>
    public string ModelType => Folder.Model.Config.ModelType;

    /// <summary>Number of token ids the model scores (config.json's vocab_size).</summary>
    public int VocabSize => Folder.Model.Config.VocabSize;

    /// <summary>The most tokens (prompt + generated) the model attends over.</summary>
    public int ContextLength => Folder.Model.Config.ContextLength;

    /// <summary>The id that ends a response (the tokenizer's EOS, else the config's); null when there is none.</summary>
    public int? EosTokenId => Folder.EosTokenId;

    /// <summary>Loads a model folder: config.json, model.safetensors, the tokenizer files and generation_config.json.</summary>
    /// <param name="folder">The folder's path.</param>
    /// <exception cref="ArgumentNullException"><paramref name="folder"/> is null.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static LanguageModel Load(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        return new LanguageModel(ModelFolder.Load(folder));
    }

    /// <summary>
    /// A small GPT-2 with random weights (seeded) and a byte-level BPE tokenizer learned from
    /// <paramref name="tokenizerTexts"/>: for experiments, tests and samples, without downloading anything.
    /// </summary>
    /// <param name="tokenizerTexts">Texts the tokenizer's merges are learned from (the texts you will train on).</param>
    /// <param name="options">The shape and seed; null: <see cref="RandomModelOptions"/>' defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tokenizerTexts"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of its range (the message names it).</exception>
    public static LanguageModel CreateRandom(IEnumerable<string> tokenizerTexts, RandomModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerTexts);
        options ??= new RandomModelOptions();
        options.Validate();
        var tokenizer = BpeTrainer.Train(tokenizerTexts, options.VocabSize).WithModelMaxLength(options.ContextLength);
        int eos = tokenizer.EosTokenId ?? 0;
        var config = new Gpt2Config
        {
            VocabSize = tokenizer.VocabSize, ContextLength = options.ContextLength, EmbeddingSize = options.EmbeddingSize,
            LayerCount = options.LayerCount, HeadCount = options.HeadCount, BosTokenId = eos, EosTokenId = eos,
        };
        var model = Gpt2Model.CreateRandom(config, options.Seed);
        return new LanguageModel(new ModelFolder(model, tokenizer));
    }

    /// <summary>Token ids of <paramref name="text"/> (special tokens written in the text are not parsed as such).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Folder.Tokenizer.Encode(text, allowSpecialTokens: false);
    }

    /// <summary>The text of <paramref name="ids"/>, special tokens (EOS, padding) left out.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="ids"/> is null.</exception>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Folder.Tokenizer.Decode(ids, skipSpecialTokens: true);
    }

    /// <summary>Continues <paramref name="prompt"/> (used as given: render any chat template first).</summary>
    /// <param name="prompt">The text to continue.</param>
    /// <param name="options">Decoding settings; null: greedy, the folder's generation_config.json max_new_tokens.</param>
    /// <returns>The generated text only (the prompt not repeated, EOS left out).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prompt"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range, or the prompt does not fit the context.</exception>
    public string Generate(string prompt, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Generate([prompt], options)[0];
    }

    /// <summary>Continues each prompt in one batch (left-padded), as <see cref="Generate(string, GenerationOptions?)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="prompts"/> or one of them is null.</exception>
    public IReadOnlyList<string> Generate(IReadOnlyList<string> prompts, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i] is null) throw new ArgumentNullException(nameof(prompts), $"prompts[{i}] is null.");
        var model = Folder;
        options ??= model.Generation.ToOptions();
        options = options with { EosTokenId = options.EosTokenId ?? model.EosTokenId, PadTokenId = options.PadTokenId ?? model.PadTokenId };
        var results = Generator.Generate(model.Model, prompts.Select(Encode).ToArray(), options);
        return results.Select(r => Decode(r.Ids)).ToArray();
    }

    /// <summary>Writes the model folder (each file atomically): it loads again here and in transformers.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="folder"/> is null.</exception>
    public void Save(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Folder.Save(folder);
    }

    /// <summary>Frees the weights' native memory. Calling it twice is harmless.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        folder.Dispose();
    }
}

/// <summary>The shape of a model made by <see cref="LanguageModel.CreateRandom"/> (a GPT-2).</summary>
public sealed record RandomModelOptions
{
    /// <summary>Tokenizer size: 256 bytes + learned merges + the EOS token; at least 257. Default 320.</summary>
    public int VocabSize { get; init; } = 320;

    /// <summary>Most tokens attended over (n_positions), 8 to 4096. Default 128.</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>Hidden width (n_embd), a multiple of <see cref="HeadCount"/>, 8 to 4096. Default 64.</summary>
    public int EmbeddingSize { get; init; } = 64;

    /// <summary>Transformer blocks (n_layer), 1 to 64. Default 2.</summary>
    public int LayerCount { get; init; } = 2;

    /// <summary>Attention heads (n_head), 1 to 64, dividing <see cref="EmbeddingSize"/>. Default 4.</summary>
    public int HeadCount { get; init; } = 4;

    /// <summary>Seed of the random weights (same seed, same model). Default 42.</summary>
    public ulong Seed { get; init; } = 42;

    internal void Validate()
    {
        ApiChecks.InRange(VocabSize, 257, 1 << 20, nameof(VocabSize));
        ApiChecks.InRange(ContextLength, 8, 4096, nameof(ContextLength));
        ApiChecks.InRange(EmbeddingSize, 8, 4096, nameof(EmbeddingSize));
        ApiChecks.InRange(LayerCount, 1, 64, nameof(LayerCount));
        ApiChecks.InRange(HeadCount, 1, 64, nameof(HeadCount));
        if (EmbeddingSize % HeadCount != 0)
            throw new ArgumentOutOfRangeException(nameof(EmbeddingSize), EmbeddingSize, $"EmbeddingSize must be a multiple of HeadCount ({HeadCount}).");
    }
}
