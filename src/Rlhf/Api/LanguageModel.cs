// The public entry point for a causal language model and its tokenizer (what `rlhf` calls a model folder): load a
// Hugging Face folder or make a small random one, tokenize, generate, save.
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Models.Generation;
using Rlhf.Models.Lora;
using Rlhf.Text;
using Rlhf.Training;

namespace Rlhf;

/// <summary>
/// A causal language model with its tokenizer and generation defaults: a Hugging Face model folder (GPT-2 or the
/// Llama family) in memory. Load one with <see cref="Load(string)"/> or create a small random one with
/// <see cref="CreateRandom"/>; trainers update it in place; <see cref="Save"/> writes a folder transformers loads.
/// With LoRA (<see cref="AddAdapters"/>, a trainer's <c>peftConfig</c>, or <see cref="Load(string, string, BaseDtype, ulong)"/>)
/// only the adapters train and <see cref="Save"/> writes a PEFT adapter folder; <see cref="MergeAndUnload"/> folds them in.
/// Dispose it to free its native memory; any use after that throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    private readonly ModelFolder folder;
    private bool disposed;

    private LanguageModel(ModelFolder folder, string? sourceFolder = null)
    {
        this.folder = folder;
        SourceFolder = sourceFolder;
    }

    /// <summary>The folder the model (its base, with adapters) was loaded from: adapter_config.json's base_model_name_or_path.</summary>
    internal string? SourceFolder { get; }

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
        return new LanguageModel(ModelFolder.Load(folder), folder);
    }

    /// <summary>
    /// Loads a base model folder with a PEFT LoRA adapter folder on it (PEFT's <c>PeftModel.from_pretrained(base,
    /// adapter)</c>; the CLI's <c>--model BASE --adapter DIR</c>): trainers train the adapters further, with the base
    /// (adapters off) as their default reference; <see cref="MergeAndUnload"/> folds them into the weights.
    /// </summary>
    /// <param name="baseFolder">The base model folder the adapter was trained on.</param>
    /// <param name="adapterFolder">The adapter folder (adapter_config.json, adapter_model.safetensors).</param>
    /// <param name="baseDtype">How the frozen base is held; bfloat16 halves its matrices' memory (see <see cref="LoraConfig.BaseDtype"/>).</param>
    /// <param name="seed">Seeds the adapters' dropout masks when they are trained further (the CLI's <c>--seed</c>).</param>
    /// <exception cref="ArgumentNullException">A folder is null.</exception>
    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="ModelFormatException">The adapter folder is malformed or was made for another base model
    /// (the message names the adapter's file and both folders).</exception>
    public static LanguageModel Load(string baseFolder, string adapterFolder, BaseDtype baseDtype = BaseDtype.Float32, ulong seed = 42)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(baseFolder);
        ArgumentException.ThrowIfNullOrWhiteSpace(adapterFolder);
        if (!Enum.IsDefined(baseDtype)) throw new ArgumentOutOfRangeException(nameof(baseDtype), baseDtype, "baseDtype must be Float32 or BFloat16.");
        if (!Directory.Exists(adapterFolder)) throw new DirectoryNotFoundException($"The adapter folder '{adapterFolder}' does not exist.");
        var loaded = ModelFolder.Load(baseFolder);
        try
        {
            var adapters = LoraSetup.Attach(loaded.Model, null, adapterFolder, baseFolder, seed, modelSetting: nameof(baseFolder));
            LoraSetup.PackBase(loaded.Model, adapters, baseDtype.ToPrecision());
            return new LanguageModel(loaded, baseFolder);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adds fresh LoRA adapters (PEFT's <c>get_peft_model</c>): the model's own weights are frozen and, with B = 0, it
    /// computes exactly what it computed before until trained. Trainers given a <c>peftConfig</c> call this themselves.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it).</exception>
    /// <exception cref="ArgumentException">A target module matches no layer (the message lists the model's linear modules).</exception>
    /// <exception cref="InvalidOperationException">The model already has adapters.</exception>
    public void AddAdapters(LoraConfig config) => AttachAdapters(config, 42, nameof(config));

    /// <summary>Attaches <paramref name="config"/>'s adapters (seed default <paramref name="defaultSeed"/>), errors naming <paramref name="name"/>.</summary>
    internal LoraAdapters AttachAdapters(LoraConfig config, ulong defaultSeed, string name, bool packBase = true) =>
        ApiLora.Attach(Folder.Model, config, defaultSeed, SourceFolder, name, packBase);

    /// <summary>True while LoRA adapters are attached (then only they, and any head, are trained and saved).</summary>
    public bool HasAdapters => Folder.Model.Adapters is not null;

    /// <summary>The attached adapters' settings (target modules as the module names they resolved to); null without adapters.</summary>
    public LoraConfig? AdapterConfig => ApiLora.ConfigOf(Folder.Model);

    /// <summary>
    /// Switches the adapters off until the returned handle is disposed (PEFT's <c>disable_adapter()</c>): meanwhile the
    /// model computes, generates and scores exactly as its base. Nestable.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model has no adapters.</exception>
    public IDisposable DisableAdapters() =>
        (Folder.Model.Adapters ?? throw new InvalidOperationException("The model has no LoRA adapters to disable.")).Disable();

    /// <summary>Number of weights (PEFT's print_trainable_parameters' "all params"), adapters included.</summary>
    public long ParameterCount => Folder.Model.Parameters.ParameterCount;

    /// <summary>Number of weights a trainer updates: all of them, or with adapters only the adapters'.</summary>
    public long TrainableParameterCount => Folder.Model.Parameters.TrainableParameterCount;

    /// <summary>
    /// Folds the adapters into the weights, W ← W + (α/r)·B·A (PEFT's <c>merge_and_unload</c>), and removes them: the
    /// model computes what it computed with them, generates at the base's speed, and <see cref="Save"/> writes a plain
    /// model folder.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model has no adapters, or its base is held in bfloat16.</exception>
    public void MergeAndUnload() => ApiLora.MergeAndUnload(Folder.Model);

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

    /// <summary>
    /// Writes the model folder (each file atomically): it loads again here and in transformers. With adapters it is a
    /// PEFT adapter folder (adapter_config.json, adapter_model.safetensors, config.json and the tokenizer), as
    /// PEFT's <c>save_pretrained</c> writes it.
    /// </summary>
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
