// LoRA's settings (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"), named as PEFT's LoraConfig
// and TRL's --lora-* options: W x + (α/r)·B·A·dropout(x), A [r, in], B [out, r].
namespace Rlhf.Models.Lora;

/// <summary>The settings of LoRA adapters on a causal LM's linear layers.</summary>
/// <param name="Rank">r: the adapters' inner dimension (TRL's --lora-r, default 16).</param>
/// <param name="Alpha">α: the update is scaled by α/r (--lora-alpha, default 32).</param>
/// <param name="Dropout">Dropout on the adapters' input while training (--lora-dropout, default 0.05).</param>
/// <param name="TargetModules">Module names (a module matches when its path equals a name or ends with "." + name),
/// or the single entry "all-linear" (every linear layer but the output head), as PEFT's target_modules.</param>
/// <param name="Seed">Seeds A's initialisation and the dropout masks.</param>
internal sealed record LoraOptions(int Rank = 16, float Alpha = 32, float Dropout = 0.05f, IReadOnlyList<string>? TargetModules = null, ulong Seed = 42)
{
    /// <summary>PEFT's shorthand for every linear layer except the output layer.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>The modules adapted when none are named: the attention query and value projections (PEFT's Llama default) or GPT-2's c_attn.</summary>
    public static IReadOnlyList<string> DefaultTargets { get; } = ["q_proj", "v_proj", "c_attn"];

    /// <summary>α/r.</summary>
    public float Scaling => Alpha / Rank;

    /// <summary>Where the base model came from (adapter_config.json's base_model_name_or_path).</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>
    /// Throws on values PEFT would reject, naming the CLI option, or with <paramref name="apiName"/> the public API's
    /// property (e.g. "peftConfig.Rank").
    /// </summary>
    public void Validate(string? apiName = null)
    {
        string Name(string option, string property) => apiName is null ? option : $"{apiName}.{property}";
        if (Rank < 1) throw new ArgumentException($"{Name("--lora-r", "Rank")} must be at least 1 (got {Rank}).");
        if (!float.IsFinite(Alpha) || Alpha <= 0) throw new ArgumentException($"{Name("--lora-alpha", "Alpha")} must be a positive number (got {Alpha}).");
        if (Dropout is < 0 or >= 1 || float.IsNaN(Dropout)) throw new ArgumentException($"{Name("--lora-dropout", "Dropout")} must be in [0, 1) (got {Dropout}).");
        if (TargetModules is { Count: 0 }) throw new ArgumentException($"{Name("--lora-target-modules", "TargetModules")} names no module.");
    }

    /// <summary>Parses a --lora-target-modules value: comma-separated names, or "all-linear".</summary>
    public static IReadOnlyList<string> ParseTargets(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
