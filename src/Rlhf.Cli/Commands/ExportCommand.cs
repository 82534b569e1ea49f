// `rlhf export gguf`: writes a model folder as one GGUF file for llama.cpp, LLamaSharp, Ollama and LM Studio.
using System.CommandLine;
using Rlhf.Export;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class ExportCommand
{
    public static Command Create()
    {
        var command = new Command("export", "Export a model for other runtimes.");
        command.Subcommands.Add(CreateGguf());
        return command;
    }

    private static Command CreateGguf()
    {
        var model = new Option<string>("--model") { Description = "Model folder (config.json, model.safetensors, tokenizer files).", Required = true };
        var output = new Option<string>("--output") { Description = "The .gguf file to write (atomically: a temp file renamed).", Required = true };
        var outType = new Option<string>("--outtype")
        {
            Description = "Weight precision: f32, f16, bf16 or q8_0 (norms, biases and position embeddings stay f32, as in llama.cpp's converter).",
            DefaultValueFactory = _ => "f32",
        };
        var command = new Command("gguf", "Write one GGUF file (weights, hyper-parameters, tokenizer, chat template) that llama.cpp, LLamaSharp and Ollama load.")
        {
            model, output, outType,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var type = GgufExporter.ParseOutType(parse.GetValue(outType)!);
            var result = GgufExporter.Export(parse.GetValue(model)!, parse.GetValue(output)!, type);
            string types = string.Join(", ", result.TensorTypes.OrderBy(t => t.Key).Select(t => $"{t.Value} {t.Key.ToString().ToLowerInvariant()}"));
            AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(result.Path)}[/] ({result.Bytes / 1e6:F1} MB): architecture {result.Architecture}, " +
                $"vocabulary {result.VocabSize}, tensors {Markup.Escape(types)}.");
            return 0;
        }));
        return command;
    }
}
