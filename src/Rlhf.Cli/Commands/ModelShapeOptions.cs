// The --preset / --n-layer / --n-head / --n-embd / --vocab-size / --n-positions options shared by init and bench.
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Gpt2;

namespace Rlhf.Cli.Commands;

public sealed class ModelShapeOptions
{
    public Option<string?> Preset { get; } = new("--preset") { Description = "Start from a named shape: gpt2 (124M), gpt2-medium, gpt2-large, gpt2-xl." };
    public Option<int?> LayerCount { get; } = new("--n-layer") { Description = "Transformer blocks." };
    public Option<int?> HeadCount { get; } = new("--n-head") { Description = "Attention heads." };
    public Option<int?> EmbeddingSize { get; } = new("--n-embd") { Description = "Channels (must divide by --n-head)." };
    public Option<int?> VocabSize { get; } = new("--vocab-size") { Description = "Vocabulary size." };
    public Option<int?> ContextLength { get; } = new("--n-positions") { Description = "Maximum sequence length." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Preset, LayerCount, HeadCount, EmbeddingSize, VocabSize, ContextLength }) command.Options.Add(option);
    }

    /// <summary>The preset (default <paramref name="defaultPreset"/>) with any explicit sizes applied on top.</summary>
    public Gpt2Config Resolve(ParseResult parse, string defaultPreset)
    {
        var config = Gpt2Config.Preset(parse.GetValue(Preset) ?? defaultPreset);
        config = config with
        {
            LayerCount = parse.GetValue(LayerCount) ?? config.LayerCount,
            HeadCount = parse.GetValue(HeadCount) ?? config.HeadCount,
            EmbeddingSize = parse.GetValue(EmbeddingSize) ?? config.EmbeddingSize,
            VocabSize = parse.GetValue(VocabSize) ?? config.VocabSize,
            ContextLength = parse.GetValue(ContextLength) ?? config.ContextLength,
        };
        // GPT-2 keeps <|endoftext|> as its last token; a resized vocabulary keeps that convention.
        if (config.EosTokenId >= config.VocabSize || config.BosTokenId >= config.VocabSize)
            config = config with { BosTokenId = config.VocabSize - 1, EosTokenId = config.VocabSize - 1 };
        config.Validate();
        return config;
    }
}
