// The one interface every causal-LM family implements; trainers, heads, generation and commands use only this.
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>How a linear layer's weight matrix is stored.</summary>
internal enum MatrixLayout
{
    /// <summary>[in, out]: y = x·W (GPT-2's Conv1D).</summary>
    InputMajor,
    /// <summary>[out, in]: y = x·Wᵀ (torch.nn.Linear).</summary>
    OutputMajor,
}

/// <summary>
/// A decoder-only transformer with Hugging Face parameter names. <see cref="Forward"/> gives the final hidden
/// states; the LM head (<see cref="LmHeadWeight"/>, tied or separate), reward and value heads are applied on top.
/// Families live in Models/Families and are found by <c>model_type</c> through <see cref="CausalLmRegistry"/>.
/// </summary>
internal interface ICausalLm : IDisposable
{
    public const string WeightsFileName = "model.safetensors";
    public const string ConfigFileName = "config.json";

    CausalLmConfig Config { get; }

    /// <summary>Every parameter: the model's own and those of heads stored beside them.</summary>
    ParameterSet Parameters { get; }

    /// <summary>True for the causal LM's own parameters (backbone and LM head), false for heads added on top.</summary>
    bool IsOwnParameter(string name);

    /// <summary>
    /// Final hidden states [B·T, C] for token ids [B·T] at the given positions (left padding shifts positions,
    /// so they are passed explicitly). keyMask [B, T]: 1 for real tokens, 0 for padding; null when none.
    /// With a <paramref name="cache"/> (inference), the T tokens follow those already cached and attend to them
    /// too; their keys and values are appended and the cache advances by T. With <paramref name="packed"/> weights
    /// (inference only) the linear layers run on those instead of the parameters; without, on
    /// <see cref="FrozenBaseWeights"/> when the model has them (training too: they are frozen, the input gets its gradient).
    /// </summary>
    Node Forward(Ops ops, int[] tokenIds, int[] positionIds, Tensor? keyMask, int batch, int tokens,
        bool trainable = true, KvCache? cache = null, InferenceWeights? packed = null);

    /// <summary>
    /// When true, training forwards keep only each block's input and recompute the block in backward (transformers'
    /// <c>gradient_checkpointing_enable()</c>): activation memory drops from every block's to about one block's, for
    /// one more forward per step; gradients are the same bit for bit. Forwards without the tape always keep only the
    /// blocks' outputs.
    /// </summary>
    bool GradientCheckpointing { get; set; }

    /// <summary>
    /// The frozen linear weights held only packed (a LoRA model's bf16 base, <see cref="FrozenBase.Enable"/>), or null:
    /// when set, every forward given no <c>packed</c> weights runs its linear layers on these, and the fp32 copies
    /// of those weights are gone. Disposed with the model.
    /// </summary>
    InferenceWeights? FrozenBaseWeights { get; set; }

    /// <summary>The LM head's weight [V, C] (nn.Linear layout): the token embedding when tied.</summary>
    Node LmHeadWeight(Ops ops, bool trainable = true);

    /// <summary>Name of the parameter holding the LM head's [V, C] weight.</summary>
    string LmHeadWeightName { get; }

    /// <summary>The linear layers' weights that decoding packs (<see cref="InferenceWeights"/>), with their layout.</summary>
    IReadOnlyList<(string Name, MatrixLayout Layout)> LinearWeights { get; }

    /// <summary>An empty KV cache for <paramref name="batchSize"/> rows of up to <paramref name="capacity"/> tokens.</summary>
    KvCache CreateKvCache(int batchSize, int capacity);

    /// <summary>
    /// LoRA adapters the linear layers add to their outputs (<see cref="Lora.LoraAdapters.Attach"/> sets this); with them,
    /// <see cref="Save"/> and <see cref="LoadWeights"/> write and read a PEFT adapter folder instead of the full weights.
    /// </summary>
    Lora.LoraAdapters? Adapters { get; set; }

    /// <summary>Writes config.json and the weights (model.safetensors or shards, each file atomically) into <paramref name="directory"/>.</summary>
    /// <param name="include">Which parameters to write (default: all).</param>
    void Save(string directory, Func<string, bool>? include = null);

    /// <summary>How <see cref="Save"/> writes the weights (F32 in one file unless set otherwise).</summary>
    CheckpointFormat WeightsFormat { get; set; }

    /// <summary>
    /// Fills the parameters from a folder's weights; everything is validated before any parameter changes.
    /// Returns the names in <paramref name="optional"/> the folder lacked (they keep their values).
    /// </summary>
    /// <param name="ignoreExtra">Tensors the folder may hold beyond this model's (e.g. another head).</param>
    IReadOnlyList<string> LoadWeights(string directory, IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null);
}
