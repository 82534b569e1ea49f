// A reward model from C#, as `rlhf score` uses it: one scalar per (prompt, response), read at the last real token.
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Text;
using Rlhf.Training.Reward;

namespace Rlhf;

/// <summary>
/// A reward model (a causal LM with a scalar head, transformers' *ForSequenceClassification) with its tokenizer:
/// scores how good a response to a prompt is. Load a trained one with <see cref="Load(string)"/>, or start a fresh one from a
/// language model with <see cref="FromLanguageModel"/> and train it with <see cref="RewardTrainer"/>.
/// Dispose it to free its native memory; any use after that throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class RewardScorer : IDisposable
{
    private readonly RewardModel model;
    private readonly BpeTokenizer tokenizer;
    private RewardTask? task;
    private bool disposed;

    private RewardScorer(RewardModel model, BpeTokenizer tokenizer, string? sourceFolder)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        SourceFolder = sourceFolder;
    }

    /// <summary>The folder the model (or its base) came from: adapter_config.json's base_model_name_or_path.</summary>
    internal string? SourceFolder { get; }

    internal RewardModel Model
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return model;
        }
    }

    internal BpeTokenizer Tokenizer => tokenizer;

    internal int PadTokenId => model.PadTokenId ?? tokenizer.PadTokenId ?? EosTokenId ?? 0;

    internal int? EosTokenId => tokenizer.EosTokenId ?? model.Model.Config.EosTokenId;

    /// <summary>How a sequence's score is read off the token positions.</summary>
    public RewardPooling Pooling => Model.Pooling;

    /// <summary>Loads a reward-model folder written by <c>rlhf reward</c>, <see cref="Save"/> or transformers.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="folder"/> is null.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static RewardScorer Load(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The reward-model folder '{folder}' does not exist.");
        var model = RewardModel.Load(folder);
        try
        {
            return new RewardScorer(model, BpeTokenizer.FromFolder(folder), folder);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a reward model's PEFT LoRA adapter folder (written by <c>rlhf reward --use-peft</c> or a <see cref="RewardTrainer"/>
    /// with a <c>peftConfig</c>: the adapters and the trained score head) onto its base, the causal-LM (or reward-model)
    /// folder it was trained on; its pooling comes from the adapter folder's reward_config.json.
    /// </summary>
    /// <param name="baseFolder">The base folder the adapter was trained on.</param>
    /// <param name="adapterFolder">The adapter folder (adapter_config.json, adapter_model.safetensors with the score head).</param>
    /// <param name="baseDtype">How the frozen base is held (see <see cref="LoraConfig.BaseDtype"/>).</param>
    /// <param name="seed">Seeds the adapters' dropout masks when they are trained further (the CLI's <c>--seed</c>).</param>
    /// <exception cref="ArgumentNullException">A folder is null.</exception>
    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="ModelFormatException">The adapter folder is malformed, lacks the score head, or was made for another
    /// base model (the message names the adapter's file and both folders).</exception>
    public static RewardScorer Load(string baseFolder, string adapterFolder, BaseDtype baseDtype = BaseDtype.Float32, ulong seed = 42)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(baseFolder);
        ArgumentException.ThrowIfNullOrWhiteSpace(adapterFolder);
        if (!Enum.IsDefined(baseDtype)) throw new ArgumentOutOfRangeException(nameof(baseDtype), baseDtype, "baseDtype must be Float32 or BFloat16.");
        foreach (var (folder, name) in new[] { (baseFolder, "base"), (adapterFolder, "adapter") })
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The {name} folder '{folder}' does not exist.");
        var model = RewardModel.LoadOrCreate(baseFolder, RewardModel.ReadPooling(adapterFolder), seed: 0);
        try
        {
            var adapters = PeftAdapterFolder.Attach(model.Model, baseFolder, adapterFolder, seed, headsRequired: true, modelSetting: nameof(baseFolder));
            LoraSetup.PackBase(model.Model, adapters, baseDtype.ToPrecision());
            return new RewardScorer(model, BpeTokenizer.FromFolder(baseFolder), baseFolder);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>True while LoRA adapters are attached (then only they and the score head are trained and saved).</summary>
    public bool HasAdapters => Model.Model.Adapters is not null;

    /// <summary>The attached adapters' settings (target modules as the module names they resolved to); null without adapters.</summary>
    public LoraConfig? AdapterConfig => ApiLora.ConfigOf(Model.Model);

    /// <summary>
    /// Folds the adapters into the backbone's weights (PEFT's <c>merge_and_unload</c>): scores stay the same, and
    /// <see cref="Save"/> then writes a plain reward-model folder.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model has no adapters, or its base is held in bfloat16.</exception>
    public void MergeAndUnload() => ApiLora.MergeAndUnload(Model.Model);

    /// <summary>
    /// A new reward model on <paramref name="baseModel"/>'s weights (copied; the base model is left as it is) with a
    /// fresh scalar head drawn from N(0, initializer_range) with <paramref name="seed"/>; its scores mean nothing until trained.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="baseModel"/> is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="baseModel"/> is disposed.</exception>
    /// <exception cref="ArgumentException"><paramref name="baseModel"/> has LoRA adapters (merge them first, or give the reward trainer a LoraConfig).</exception>
    public static RewardScorer FromLanguageModel(LanguageModel baseModel, RewardPooling pooling = RewardPooling.LastToken, ulong seed = 42)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        var folder = baseModel.Folder;
        if (baseModel.HasAdapters)
            throw new ArgumentException("The language model has LoRA adapters: call MergeAndUnload() first, or start from its base and give RewardTrainer a LoraConfig.", nameof(baseModel));
        string temp = Path.Combine(Path.GetTempPath(), "rlhf-reward-" + Guid.NewGuid().ToString("N"));
        try
        {
            folder.Save(temp);
            return new RewardScorer(RewardModel.FromCausalLm(temp, pooling, seed), folder.Tokenizer, baseModel.SourceFolder);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>The reward of <paramref name="response"/> to <paramref name="prompt"/>: higher is better (unbounded logit).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="prompt"/> or <paramref name="response"/> is null.</exception>
    public float Score(string prompt, string response)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(response);
        return Score([(prompt, response)])[0];
    }

    /// <summary>Rewards of many (prompt, response) pairs, scored in batches of <paramref name="batchSize"/> (1 to 4096).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> or a text in it is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is out of range.</exception>
    public IReadOnlyList<float> Score(IReadOnlyList<(string Prompt, string Response)> items, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(items);
        ApiChecks.InRange(batchSize, 1, 4096, nameof(batchSize));
        for (int i = 0; i < items.Count; i++)
            if (items[i].Prompt is null || items[i].Response is null) throw new ArgumentNullException(nameof(items), $"items[{i}] holds a null text.");
        var sequences = items.Select(i => Sequence(i.Prompt, i.Response)).ToArray();
        task ??= new RewardTask(Model, new RewardConfig(), PadTokenId);
        return sequences.Length == 0 ? [] : task.Score(sequences, batchSize);
    }

    /// <summary>What the reward model reads: prompt and response tokenised at once, then EOS (as in training).</summary>
    internal int[] Sequence(string prompt, string response) =>
        TokenSequences.Whole(new DelegateTextEncoder(t => Tokenizer.Encode(t, allowSpecialTokens: false)), prompt, response, TrainerRun.EosAppended, EosTokenId);

    /// <summary>
    /// Writes the reward-model folder (weights, config.json, tokenizer), each file atomically; with adapters a PEFT
    /// adapter folder (task_type SEQ_CLS, the score head in modules_to_save) as <c>rlhf reward --use-peft</c> writes.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="folder"/> is null.</exception>
    public void Save(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Model.Save(folder);
        Tokenizer.Save(folder);
    }

    /// <summary>Frees the weights' native memory. Calling it twice is harmless.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        task?.Dispose();
        model.Dispose();
    }
}
