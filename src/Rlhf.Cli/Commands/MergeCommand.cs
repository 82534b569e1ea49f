// `rlhf merge`: folds a PEFT LoRA adapter into its base (PEFT's merge_and_unload, W + α/r·B·A) and writes a plain model
// folder (a reward model folder for SEQ_CLS adapters, with their trained score head) that needs no adapter to load.
using System.CommandLine;
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Text;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class MergeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The base model folder the adapter was trained on.", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "The PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors).", Required = true };
        var output = new Option<string>("--output", "--output-dir") { Description = "Folder for the merged model.", Required = true };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "Replace what the output folder holds." };
        var command = new Command("merge", "Merge a LoRA adapter into its base model and write a plain model folder.") { model, adapter, output, overwrite };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string baseDir = InputFiles.RequireFolder(parse.GetValue(model)!, "--model");
            string adapterDir = InputFiles.RequireFolder(parse.GetValue(adapter)!, "--adapter");
            string outputDir = InputFiles.RequireOutputFolder(parse.GetValue(output)!, "--output");
            if (Directory.Exists(outputDir) && Directory.EnumerateFileSystemEntries(outputDir).Any() && !parse.GetValue(overwrite))
                throw new IOException($"{outputDir} is not empty; pass --overwrite-output-dir to replace it.");
            if (Path.GetFullPath(outputDir) == Path.GetFullPath(baseDir) || Path.GetFullPath(outputDir) == Path.GetFullPath(adapterDir))
                throw new ArgumentException("--output must differ from --model and --adapter.");
            bool reward = IsRewardAdapter(adapterDir);
            var tokenizer = BpeTokenizer.FromFolder(baseDir);
            WriteAtomically(outputDir, temporary =>
            {
                if (reward)
                {
                    using var rewardModel = RewardModel.LoadOrCreate(baseDir, RewardPooling.LastToken, 0);
                    LoraMerge.MergeAndUnload(PeftAdapterFolder.Attach(rewardModel.Model, baseDir, adapterDir, headsRequired: true));
                    rewardModel.PadTokenId ??= tokenizer.PadTokenId ?? tokenizer.EosTokenId;
                    rewardModel.Save(temporary);
                    tokenizer.Save(temporary);
                    string pooling = Path.Combine(adapterDir, RewardModel.RewardConfigFileName);
                    if (File.Exists(pooling)) File.Copy(pooling, Path.Combine(temporary, RewardModel.RewardConfigFileName), overwrite: true);
                }
                else
                {
                    using var folder = ModelFolder.Load(baseDir);
                    LoraMerge.MergeAndUnload(PeftAdapterFolder.Attach(folder.Model, baseDir, adapterDir));
                    folder.Save(temporary);
                }
            });
            AnsiConsole.MarkupLine($"Merged [green]{Markup.Escape(adapterDir)}[/] into [green]{Markup.Escape(baseDir)}[/]: wrote [green]{Markup.Escape(outputDir)}[/]" +
                (reward ? " (a reward model)." : "."));
            return 0;
        }));
        return command;
    }

    private static bool IsRewardAdapter(string adapterDir)
    {
        PeftAdapterFolder.ReadOptions(adapterDir); // validates the config first
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(adapterDir, PeftAdapterFolder.ConfigFileName)));
        return json?["task_type"]?.GetValueKind() == System.Text.Json.JsonValueKind.String && json["task_type"]!.GetValue<string>() == "SEQ_CLS";
    }

    /// <summary>Everything goes into a sibling temporary folder, then replaces the output folder, so a failure leaves it as it was.</summary>
    private static void WriteAtomically(string outputDir, Action<string> write)
    {
        string full = Path.GetFullPath(outputDir).TrimEnd(Path.DirectorySeparatorChar);
        string temporary = $"{full}.tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temporary);
        try
        {
            write(temporary);
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            Directory.Move(temporary, full);
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }
}
