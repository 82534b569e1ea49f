// The LoRA options of the trainers (TRL's ModelConfig names: --use-peft, --lora-r, --lora-alpha, --lora-dropout,
// --lora-target-modules) and --adapter, which loads a PEFT adapter folder onto --model (to train further or to run).
using System.CommandLine;
using Rlhf.Models;
using Rlhf.Models.Lora;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal sealed class LoraCliOptions
{
    public Option<bool> UsePeft { get; } = new("--use-peft") { Description = "Train LoRA adapters on the frozen model instead of every weight (writes a PEFT adapter folder)." };
    public Option<int> Rank { get; } = new("--lora-r") { Description = "LoRA rank r.", DefaultValueFactory = _ => 16 };
    public Option<float> Alpha { get; } = new("--lora-alpha") { Description = "LoRA α (the update is scaled by α/r).", DefaultValueFactory = _ => 32 };
    public Option<float> Dropout { get; } = new("--lora-dropout") { Description = "Dropout on the adapters' input while training.", DefaultValueFactory = _ => 0.05f };
    public Option<string?> TargetModules { get; } = new("--lora-target-modules")
    {
        Description = "Comma-separated module names to adapt (e.g. q_proj,v_proj; GPT-2: c_attn,c_proj,c_fc) or all-linear; default q_proj,v_proj (GPT-2: c_attn).",
    };
    public Option<string?> Adapter { get; } = new("--adapter")
    {
        Description = "A PEFT LoRA adapter folder to load onto --model (its base); trainers train it further (their reference is then the base without it).",
    };

    /// <summary>Training commands get every option; inference commands only --adapter.</summary>
    public void AddTo(Command command, bool training)
    {
        if (training) AddTrainingTo(command);
        command.Options.Add(Adapter);
    }

    /// <summary>Only the options of fresh adapters (--use-peft, --lora-*): the benchmarks, which have no model folder.</summary>
    public void AddTrainingTo(Command command)
    {
        foreach (Option option in new Option[] { UsePeft, Rank, Alpha, Dropout, TargetModules }) command.Options.Add(option);
    }

    /// <summary>The --adapter folder when given (checked to exist).</summary>
    public string? AdapterFolder(CommandSettings settings) =>
        settings.Get(Adapter) is { } path ? InputFiles.RequireFolder(path, "--adapter") : null;

    /// <summary>The LoRA settings of --use-peft (null without it); checked before any model loads.</summary>
    public LoraOptions? Resolve(CommandSettings settings, string baseModel, ulong seed)
    {
        if (!settings.Get(UsePeft)) return null;
        var targets = settings.Get(TargetModules) is { } text ? LoraOptions.ParseTargets(text) : null;
        var options = new LoraOptions(settings.Get(Rank), settings.Get(Alpha), settings.Get(Dropout), targets, seed) { BaseModelNameOrPath = baseModel };
        options.Validate();
        return options;
    }

    /// <summary>
    /// For a trainer: loads --adapter onto the model (training continues on it) or attaches fresh adapters for
    /// --use-peft; null (full fine-tuning) otherwise. Prints what is trained.
    /// </summary>
    public LoraAdapters? Apply(IAnsiConsole console, CommandSettings settings, ICausalLm model, string modelDir, ulong seed)
    {
        var adapters = LoraSetup.Attach(model, Resolve(settings, modelDir, seed), AdapterFolder(settings), modelDir, seed);
        if (adapters is null) return null;
        var parameters = model.Parameters;
        TrainingRunner.Line(console, $"LoRA r={adapters.Options.Rank} α={adapters.Options.Alpha:G4} dropout {adapters.Options.Dropout:G3} on " +
            $"{string.Join(", ", adapters.Options.TargetModules!)}: training {parameters.TrainableParameterCount:N0} of {parameters.ParameterCount:N0} parameters " +
            $"({100.0 * parameters.TrainableParameterCount / parameters.ParameterCount:F2}%).");
        return adapters;
    }

    /// <summary>For inference: --adapter merged into the loaded model (W + α/r·B·A), so decoding runs at the base's speed.</summary>
    public void MergeInto(CommandSettings settings, ICausalLm model, string modelDir)
    {
        if (AdapterFolder(settings) is not { } adapter) return;
        LoraMerge.MergeAndUnload(PeftAdapterFolder.Attach(model, modelDir, adapter, headsRequired: true));
    }
}
