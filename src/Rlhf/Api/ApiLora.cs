// What LanguageModel, RewardScorer and the trainers share for LoRA: attaching a LoraConfig's adapters and packing the
// base as the CLI does (LoraAdapters.Attach, LoraSetup.PackBase), merging them, with errors naming the API's parameters.
using Rlhf.Models;
using Rlhf.Models.Lora;

namespace Rlhf;

internal static class ApiLora
{
    /// <summary>
    /// Attaches <paramref name="config"/>'s adapters to <paramref name="model"/> (seed default <paramref name="defaultSeed"/>,
    /// adapter_config.json's base_model_name_or_path <paramref name="baseModel"/>) and, with <paramref name="packBase"/>,
    /// holds its base in <see cref="LoraConfig.BaseDtype"/>; every error names <paramref name="name"/> before the model changes.
    /// </summary>
    public static LoraAdapters Attach(ICausalLm model, LoraConfig config, ulong defaultSeed, string? baseModel, string name, bool packBase = true)
    {
        ArgumentNullException.ThrowIfNull(config, name);
        var options = config.ToOptions(defaultSeed, baseModel, name);
        RequireNoAdapters(model);
        try
        {
            LoraTargets.Resolve(model, options.TargetModules ?? LoraOptions.DefaultTargets, $"{name}.{nameof(LoraConfig.TargetModules)}");
        }
        catch (ArgumentException error)
        {
            throw new ArgumentException(error.Message, name, error);
        }
        var adapters = LoraAdapters.Attach(model, options);
        if (packBase) LoraSetup.PackBase(model, adapters, config.BaseDtype.ToPrecision());
        return adapters;
    }

    /// <summary>A model given a new LoraConfig must not carry adapters already.</summary>
    public static void RequireNoAdapters(ICausalLm model)
    {
        if (model.Adapters is not null)
            throw new InvalidOperationException("The model already has LoRA adapters; train them without a new LoraConfig, or MergeAndUnload() first.");
    }

    /// <summary>The public form of the attached adapters' settings; null without adapters.</summary>
    public static LoraConfig? ConfigOf(ICausalLm model) =>
        model.Adapters is { } adapters ? LoraConfig.From(adapters.Options, model.FrozenBaseWeights is null ? BaseDtype.Float32 : BaseDtype.BFloat16) : null;

    /// <summary>PEFT's merge_and_unload on the model's adapters.</summary>
    public static void MergeAndUnload(ICausalLm model)
    {
        if (model.Adapters is not { } adapters) throw new InvalidOperationException("The model has no LoRA adapters to merge.");
        if (model.FrozenBaseWeights is not null)
            throw new InvalidOperationException("The model's base is held in bfloat16: save its adapter folder, then load it onto the float32 base " +
                "(Load(baseFolder, adapterFolder)) and merge that.");
        LoraMerge.MergeAndUnload(adapters);
    }
}
