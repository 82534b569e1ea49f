// What every model family's config.json says that trainers, heads, generation and folders need to know.

namespace Rlhf.Models;

/// <summary>
/// The family-neutral part of a Hugging Face <c>config.json</c>. Each family (see <see cref="CausalLmRegistry"/>)
/// derives its own record with its keys; <c>with</c> expressions on this type keep the family's record.
/// </summary>
internal abstract record CausalLmConfig
{
    /// <summary><c>model_type</c>, which picks the family.</summary>
    public abstract string ModelType { get; }

    /// <summary><c>vocab_size</c>.</summary>
    public int VocabSize { get; init; }

    /// <summary>The longest sequence the model takes (<c>n_positions</c> / <c>max_position_embeddings</c>).</summary>
    public int ContextLength { get; init; }

    /// <summary>Width of the hidden states that heads read (<c>n_embd</c> / <c>hidden_size</c>).</summary>
    public abstract int HiddenSize { get; }

    /// <summary>Number of transformer blocks.</summary>
    public int LayerCount { get; init; }

    /// <summary><c>initializer_range</c>: standard deviation of the normal weight initialisation (fresh heads too).</summary>
    public float InitializerRange { get; init; } = 0.02f;

    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c> (the first one when config.json lists several).</summary>
    public int? EosTokenId { get; init; }

    /// <summary><c>pad_token_id</c>.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>The transformers class this folder is for (config.json "architectures"), e.g. GPT2LMHeadModel.</summary>
    public string Architecture { get; init; } = "";

    /// <summary>The family's causal-LM class name (e.g. LlamaForCausalLM).</summary>
    public abstract string CausalLmArchitectureName { get; }

    /// <summary>The family's one-label sequence-classification class name (e.g. LlamaForSequenceClassification), whose
    /// <c>score</c> head makes a reward model.</summary>
    public abstract string SequenceClassificationArchitectureName { get; }

    /// <summary>True when this is a reward model's configuration.</summary>
    public bool IsSequenceClassifier => Architecture == SequenceClassificationArchitectureName;

    /// <summary>The same shapes as a sequence classifier (a reward model).</summary>
    public CausalLmConfig AsSequenceClassifier() => this with { Architecture = SequenceClassificationArchitectureName };

    /// <summary>The same shapes as a plain causal LM.</summary>
    public CausalLmConfig AsCausalLm() => this with { Architecture = CausalLmArchitectureName };

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending keys when this configuration cannot be built.</summary>
    public abstract void Validate();

    /// <summary>Parameters of the causal LM (its layout's total, heads excluded), as a double so that no shape
    /// overflows: sizes are checked against memory and the checkpoint before anything is allocated.</summary>
    public abstract double ParameterCount { get; }

    /// <summary>Writes a config.json that transformers loads, atomically.</summary>
    public abstract void Save(string path);
}
