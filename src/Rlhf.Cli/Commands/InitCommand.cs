// `rlhf init`: writes a randomly initialised causal LM of any family (a preset or explicit sizes) in Hugging Face layout.
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Models.Llama;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class InitCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Folder to write config.json and model.safetensors into.", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed for the initial weights.", DefaultValueFactory = _ => 42 };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "Replace a model already in the output folder." };
        var shape = new ModelShapeOptions();
        var weights = new CheckpointOptions();
        var command = new Command("init", "Write a randomly initialised causal LM (GPT-2 or the Llama family; Hugging Face layout).") { output, seed, overwrite };
        weights.AddTo(command);
        shape.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string directory = parse.GetValue(output)!;
            var config = shape.Resolve(parse, "gpt2");
            var format = weights.Resolve(parse);
            if ((CheckpointReader.Exists(directory) || File.Exists(Path.Combine(directory, ICausalLm.ConfigFileName))) && !parse.GetValue(overwrite))
                throw new IOException($"{directory} already holds a model; pass --overwrite-output-dir to replace it.");
            using var model = CausalLmRegistry.CreateRandom(config, parse.GetValue(seed));
            model.WeightsFormat = format;
            model.Save(directory);
            string heads = config switch
            {
                Gpt2Config g => $"{g.HeadCount} heads",
                LlamaConfig l => $"{l.HeadCount} heads ({l.KeyValueHeadCount} key/value)",
                _ => "",
            };
            AnsiConsole.MarkupLine($"Wrote a {config.ModelType} model with {model.Parameters.ParameterCount:N0} parameters " +
                $"({config.LayerCount} layers, {heads}, {config.HiddenSize} channels, vocab {config.VocabSize}) to [green]{Markup.Escape(directory)}[/].");
            return 0;
        }));
        return command;
    }
}
