// --save-dtype and --max-shard-size: how a command writes model weights (F32 in one file unless asked otherwise).
using System.CommandLine;
using Rlhf.Models;

namespace Rlhf.Cli.Commands;

internal sealed class CheckpointOptions
{
    public Option<string> SaveDtype { get; } = new("--save-dtype")
    {
        Description = "Weights dtype written: float32 (default, exact) or bfloat16 (half the size, as Hub checkpoints).",
        DefaultValueFactory = _ => "float32",
    };
    public Option<string?> MaxShardSize { get; } = new("--max-shard-size")
    {
        Description = "Split the weights into shards of at most this size (e.g. 5GB, 500MB) with model.safetensors.index.json; default one file.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(SaveDtype);
        command.Options.Add(MaxShardSize);
    }

    public CheckpointFormat Resolve(ParseResult parse)
    {
        bool bf16 = parse.GetValue(SaveDtype)!.Trim().ToLowerInvariant() switch
        {
            "float32" or "fp32" or "f32" => false,
            "bfloat16" or "bf16" => true,
            var other => throw new ArgumentException($"--save-dtype '{other}' is not supported; use float32 or bfloat16."),
        };
        long? shard = parse.GetValue(MaxShardSize) is string size ? CheckpointFormat.ParseSize(size) : null;
        return new CheckpointFormat(bf16, shard);
    }
}
