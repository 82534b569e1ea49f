// `rlhf init`: writes a randomly initialised GPT-2 in Hugging Face layout.
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

public static class InitCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Folder to write config.json and model.safetensors into.", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed for the initial weights.", DefaultValueFactory = _ => 42 };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "Replace a model already in the output folder." };
        var shape = new ModelShapeOptions();
        var command = new Command("init", "Write a randomly initialised GPT-2 (Hugging Face layout).") { output, seed, overwrite };
        shape.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string directory = parse.GetValue(output)!;
            var config = shape.Resolve(parse, "gpt2");
            if (File.Exists(Path.Combine(directory, Gpt2Model.WeightsFileName)) && !parse.GetValue(overwrite))
                throw new IOException($"{directory} already holds a model; pass --overwrite-output-dir to replace it.");
            using var model = Gpt2Model.CreateRandom(config, parse.GetValue(seed));
            model.Save(directory);
            AnsiConsole.MarkupLine($"Wrote a GPT-2 with {model.Parameters.ParameterCount:N0} parameters " +
                $"({config.LayerCount} layers, {config.HeadCount} heads, {config.EmbeddingSize} channels, vocab {config.VocabSize}) to [green]{Markup.Escape(directory)}[/].");
            return 0;
        }));
        return command;
    }
}
