// LoRA for the public API (Hu et al. 2021): PEFT's LoraConfig, given to a trainer as TRL's peft_config= is, or to
// LanguageModel.AddAdapters as to get_peft_model. The same settings as the CLI's --lora-* and --base-dtype options.
using Rlhf.Models.Lora;
using Rlhf.Tensors;

namespace Rlhf;

/// <summary>
/// LoRA adapters on a model's linear layers (PEFT's <c>LoraConfig</c>): each adapted layer computes
/// W x + (α/r)·B·A·dropout(x) with A [r, in] and B [out, r]; the base weights stay frozen, only A and B (and a reward
/// model's score head or PPO's value head) are trained. Saving a model with adapters writes a PEFT adapter folder
/// (adapter_config.json, adapter_model.safetensors) that <c>PeftModel.from_pretrained</c> and
/// <see cref="LanguageModel.Load(string, string, BaseDtype, ulong)"/> load.
/// </summary>
public sealed record LoraConfig
{
    /// <summary>The <see cref="TargetModules"/> entry that selects every linear layer except the output head (PEFT's "all-linear").</summary>
    public const string AllLinear = LoraOptions.AllLinear;

    /// <summary>r: the adapters' inner dimension, at least 1 (PEFT's <c>r</c>). Default 16.</summary>
    public int Rank { get; init; } = 16;

    /// <summary>α: the update is scaled by α/r, a positive number (PEFT's <c>lora_alpha</c>). Default 32.</summary>
    public float Alpha { get; init; } = 32;

    /// <summary>Dropout on the adapters' input while training, in [0, 1) (PEFT's <c>lora_dropout</c>). Default 0.05.</summary>
    public float Dropout { get; init; } = 0.05f;

    /// <summary>
    /// The module names to adapt (PEFT's <c>target_modules</c>: a module matches when its path equals a name or ends with
    /// "." + name), e.g. ["q_proj", "v_proj"], GPT-2's ["c_attn", "c_proj", "c_fc"], or [<see cref="AllLinear"/>].
    /// Null: q_proj and v_proj (GPT-2: c_attn). A name no module matches is an error listing the model's linear modules.
    /// </summary>
    public IReadOnlyList<string>? TargetModules { get; init; }

    /// <summary>Seeds A's initialisation and the dropout masks. Null: the trainer's <c>TrainingArguments.Seed</c> (as the CLI), or 42.</summary>
    public ulong? Seed { get; init; }

    /// <summary>
    /// How the frozen base's linear weights are held while training (the CLI's <c>--base-dtype</c>): float32, or
    /// bfloat16 (packed once, half the bytes, fp32 sums; needs AVX-512). A bf16 base cannot be merged in memory: save
    /// the adapter folder and load it onto the float32 base to merge. Default float32.
    /// </summary>
    public BaseDtype BaseDtype { get; init; } = BaseDtype.Float32;

    /// <summary>The internal settings, checked with errors naming <paramref name="name"/>'s properties (e.g. "peftConfig.Rank").</summary>
    internal LoraOptions ToOptions(ulong defaultSeed, string? baseModel, string name)
    {
        if (!Enum.IsDefined(BaseDtype)) throw new ArgumentOutOfRangeException(name, BaseDtype, $"{name}.{nameof(BaseDtype)} must be Float32 or BFloat16.");
        var options = new LoraOptions(Rank, Alpha, Dropout, TargetModules?.ToArray(), Seed ?? defaultSeed) { BaseModelNameOrPath = baseModel };
        ApiChecks.Valid(() => options.Validate(name), name);
        if (TargetModules is not null && TargetModules.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentOutOfRangeException(name, $"{name}.{nameof(TargetModules)} holds an empty name.");
        return options;
    }

    /// <summary>The public form of attached adapters' settings (target modules as resolved to module names).</summary>
    internal static LoraConfig From(LoraOptions options, BaseDtype baseDtype) => new()
    {
        Rank = options.Rank, Alpha = options.Alpha, Dropout = options.Dropout, TargetModules = options.TargetModules, Seed = options.Seed, BaseDtype = baseDtype,
    };
}

/// <summary>The storage of a LoRA model's frozen base weights (torch's dtype names).</summary>
public enum BaseDtype
{
    /// <summary>32-bit floats, as loaded: the model can be merged (<see cref="LanguageModel.MergeAndUnload"/>) and fully saved.</summary>
    Float32,

    /// <summary>bfloat16, packed once (half the bytes of the frozen matrices); products and sums stay fp32.</summary>
    BFloat16,
}

internal static class BaseDtypes
{
    public static WeightPrecision ToPrecision(this BaseDtype dtype) => dtype == BaseDtype.BFloat16 ? WeightPrecision.BFloat16 : WeightPrecision.Float32;
}
