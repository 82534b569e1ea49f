// The --preset / --model-type / size options shared by init and bench: a named shape of any family, or explicit sizes.
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Models.Llama;

namespace Rlhf.Cli.Commands;

internal sealed class ModelShapeOptions
{
    public Option<string?> Preset { get; } = new("--preset")
    {
        Description = $"Start from a named shape: {string.Join(", ", CausalLmRegistry.PresetNames)} (from their Hub config.json).",
    };
    public Option<string?> ModelType { get; } = new("--model-type")
    {
        Description = $"The family for explicit sizes without a preset: {string.Join(", ", CausalLmRegistry.ModelTypes)} (default gpt2).",
    };
    public Option<int?> LayerCount { get; } = new("--n-layer") { Description = "Transformer blocks (num_hidden_layers)." };
    public Option<int?> HeadCount { get; } = new("--n-head") { Description = "Attention heads (num_attention_heads)." };
    public Option<int?> KeyValueHeadCount { get; } = new("--num-key-value-heads") { Description = "Key/value heads for grouped-query attention (Llama family; must divide --n-head)." };
    public Option<int?> EmbeddingSize { get; } = new("--n-embd") { Description = "Channels, hidden_size (must divide by --n-head)." };
    public Option<int?> IntermediateSize { get; } = new("--intermediate-size") { Description = "SwiGLU MLP width (Llama family)." };
    public Option<int?> VocabSize { get; } = new("--vocab-size") { Description = "Vocabulary size." };
    public Option<int?> ContextLength { get; } = new("--n-positions") { Description = "Maximum sequence length (max_position_embeddings)." };
    public Option<bool?> TieWordEmbeddings { get; } = new("--tie-word-embeddings") { Description = "Llama family: the LM head is the token embedding (true) or lm_head.weight (false)." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Preset, ModelType, LayerCount, HeadCount, KeyValueHeadCount, EmbeddingSize, IntermediateSize, VocabSize, ContextLength, TieWordEmbeddings })
            command.Options.Add(option);
    }

    /// <summary>The preset (default <paramref name="defaultPreset"/>, or a small model of --model-type) with any explicit sizes applied on top.</summary>
    public CausalLmConfig Resolve(ParseResult parse, string defaultPreset)
    {
        string? preset = parse.GetValue(Preset), type = parse.GetValue(ModelType)?.Trim().ToLowerInvariant();
        if (type is not null && CausalLmRegistry.Find(type) is null)
            throw new ArgumentException($"--model-type '{type}' is not supported; use one of {string.Join(", ", CausalLmRegistry.ModelTypes)}.");
        CausalLmConfig config = preset is not null ? CausalLmRegistry.Preset(preset)
            : type is null or Gpt2Config.ModelTypeName ? CausalLmRegistry.Preset(defaultPreset)
            : SmallLlama(type);
        if (type is not null && type != config.ModelType)
            throw new ArgumentException($"--model-type {type} contradicts --preset {preset} ({config.ModelType}).");
        config = config switch
        {
            Gpt2Config gpt2 => Refuse(parse, gpt2) with
            {
                LayerCount = parse.GetValue(LayerCount) ?? gpt2.LayerCount,
                HeadCount = parse.GetValue(HeadCount) ?? gpt2.HeadCount,
                EmbeddingSize = parse.GetValue(EmbeddingSize) ?? gpt2.EmbeddingSize,
                VocabSize = parse.GetValue(VocabSize) ?? gpt2.VocabSize,
                ContextLength = parse.GetValue(ContextLength) ?? gpt2.ContextLength,
            },
            LlamaConfig llama => Sized(parse, llama),
            _ => config,
        };
        // A resized vocabulary keeps the special tokens inside it (as its last id, GPT-2's convention).
        if (config.EosTokenId >= config.VocabSize || config.BosTokenId >= config.VocabSize)
            config = config with { BosTokenId = config.VocabSize - 1, EosTokenId = config.VocabSize - 1 };
        config.Validate();
        return config;
    }

    /// <summary>LlamaConfig's small default shape for a Llama-family model type.</summary>
    private static LlamaConfig SmallLlama(string type)
    {
        var config = new LlamaConfig { Family = type };
        return config with { Architecture = config.CausalLmArchitectureName };
    }

    private Gpt2Config Refuse(ParseResult parse, Gpt2Config gpt2)
    {
        foreach (var option in new Option[] { KeyValueHeadCount, IntermediateSize, TieWordEmbeddings })
            if (parse.GetResult(option) is not null) throw new ArgumentException($"{option.Name} applies to the Llama family, not GPT-2.");
        return gpt2;
    }

    private LlamaConfig Sized(ParseResult parse, LlamaConfig llama)
    {
        int heads = parse.GetValue(HeadCount) ?? llama.HeadCount, hidden = parse.GetValue(EmbeddingSize) ?? llama.Hidden;
        bool reshaped = parse.GetValue(HeadCount) is not null || parse.GetValue(EmbeddingSize) is not null;
        return llama with
        {
            LayerCount = parse.GetValue(LayerCount) ?? llama.LayerCount,
            HeadCount = heads,
            KeyValueHeadCount = parse.GetValue(KeyValueHeadCount) ?? (reshaped ? heads : llama.KeyValueHeadCount),
            Hidden = hidden,
            HeadDim = reshaped && heads > 0 ? hidden / heads : llama.HeadDim,
            IntermediateSize = parse.GetValue(IntermediateSize) ?? llama.IntermediateSize,
            VocabSize = parse.GetValue(VocabSize) ?? llama.VocabSize,
            ContextLength = parse.GetValue(ContextLength) ?? llama.ContextLength,
            TieWordEmbeddings = parse.GetValue(TieWordEmbeddings) ?? llama.TieWordEmbeddings,
        };
    }
}
