// `rlhf sft`: supervised fine-tuning of a model folder on instruction data (or the chosen side of hh-rlhf), loss on
// the response tokens only; writes a full model folder that `rlhf generate` loads.
using System.CommandLine;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Sft;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class SftCommand
{
    /// <summary>The seeds' SFT settings (chapter 5.2, as the brief of seeds 000/001 gives them): lr 5e-5, batch 8, 3 epochs.</summary>
    public static readonly TrainingArguments Defaults = new()
    {
        LearningRate = 5e-5f, PerDeviceTrainBatchSize = 8, PerDeviceEvalBatchSize = 8, NumTrainEpochs = 3, LoggingSteps = 10,
    };

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder to fine-tune (config.json, model.safetensors, tokenizer)." };
        var training = new TrainingOptions(Defaults);
        var data = new DataOptions(maxLength: 512, maxPromptLength: 512, letMeExplain: false);
        var lora = new LoraCliOptions();
        var command = new Command("sft", "Supervised fine-tuning on instruction/response data (loss on response tokens only).") { model };
        data.AddTo(command);
        training.AddTo(command);
        lora.AddTo(command, training: true);
        var frozen = new FrozenReferenceOptions();
        frozen.AddTo(command);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var console = TrainingRunner.CreateConsole();
            var settings = CommandSettings.Load(parse, training.Config);
            string modelDir = InputFiles.RequireFolder(settings.Require(model), "--model"), dataset = data.CheckEarly(settings);
            var arguments = training.Resolve(settings);
            bool useLora = lora.Resolve(settings, modelDir, arguments.Seed) is not null | lora.AdapterFolder(settings) is not null;
            var basePrecision = frozen.Resolve(settings, useLora, hasReference: false);
            using var folder = ModelFolder.Load(modelDir);
            folder.Model.GradientCheckpointing = arguments.GradientCheckpointing;
            FrozenReferenceOptions.PackBase(basePrecision, folder.Model, lora.Apply(console, settings, folder.Model, modelDir, arguments.Seed));
            var options = data.Resolve(settings, folder.Tokenizer, folder.Model.Config.ContextLength, DataTask.Sft, modelDir) with { EosTokenId = folder.EosTokenId };
            var examples = Prepare(console, dataset, options, folder);
            var (train, eval) = training.Split(settings, examples, arguments.Seed, path => Prepare(console, path, options, folder));
            using var task = new SftTask(folder.Model, folder.PadTokenId, directory => SaveExtras(folder, directory));
            return TrainingRunner.Run(console, "sft", settings, task, arguments, train, eval);
        }));
        return command;
    }

    /// <summary>Tokenizer files, generation_config.json and the pad id in config.json: what makes the folder self-contained.</summary>
    public static void SaveExtras(ModelFolder folder, string directory) => folder.SaveTokenizerAndConfigs(directory);

    private static IReadOnlyList<SftExample> Prepare(IAnsiConsole console, string path, DataPipelineOptions options, ModelFolder folder)
    {
        var result = SftPipeline.Run(path, options);
        TrainingRunner.Line(console, result.Report.ToString().TrimEnd());
        if (result.Examples.Count == 0) throw new ArgumentException($"No examples left in {path} after filtering (see the report above).");
        return result.Examples
            .Select(e => e.Turns is { } turns
                ? SftExample.FromPieces(folder.Tokenizer.Encode(e.Instruction), TokenSequences.Turns(options.Encoder!, e.Instruction, turns))
                : new SftExample(folder.Tokenizer.Encode(e.Instruction), DataOptions.EncodeResponse(folder.Tokenizer, e.Response, options.Template, folder.EosTokenId)))
            .ToArray();
    }
}
