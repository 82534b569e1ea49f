// Which linear layers get adapters, by PEFT's rule: a module path matches a target name when it equals it or ends
// with "." + name; "all-linear" takes every linear layer except the output head.
namespace Rlhf.Models.Lora;

/// <summary>One adapted linear layer: its module path, weight name, layout and sizes.</summary>
internal sealed record LoraTarget(string Module, string WeightName, MatrixLayout Layout, int In, int Out);

internal static class LoraTargets
{
    /// <summary>The module path of a linear weight ("….c_attn.weight" → "….c_attn").</summary>
    public static string ModuleOf(string weightName) =>
        weightName.EndsWith(".weight", StringComparison.Ordinal) ? weightName[..^".weight".Length] : weightName;

    /// <summary>
    /// The model's linear layers that <paramref name="targets"/> select; an error naming <paramref name="setting"/> and
    /// listing the linear module names when none is.
    /// </summary>
    public static IReadOnlyList<LoraTarget> Resolve(ICausalLm model, IReadOnlyList<string> targets, string setting = "--lora-target-modules")
    {
        bool all = targets.Count == 1 && string.Equals(targets[0], LoraOptions.AllLinear, StringComparison.OrdinalIgnoreCase);
        var result = new List<LoraTarget>();
        foreach (var (name, layout) in model.LinearWeights)
        {
            string module = ModuleOf(name);
            if (!all && !targets.Any(t => Matches(module, t))) continue;
            var shape = model.Parameters[name].Value.Shape;
            result.Add(layout == MatrixLayout.InputMajor
                ? new LoraTarget(module, name, layout, shape[0], shape[1])
                : new LoraTarget(module, name, layout, shape[1], shape[0]));
        }
        if (result.Count == 0)
            throw new ArgumentException($"{setting} {string.Join(",", targets)} matches no module of this {model.Config.ModelType} model; " +
                $"its linear modules are: {string.Join(", ", LinearModuleNames(model))} (or use {LoraOptions.AllLinear}).");
        return result;
    }

    /// <summary>The distinct last names of the model's linear modules (e.g. q_proj, k_proj, …).</summary>
    public static IReadOnlyList<string> LinearModuleNames(ICausalLm model) =>
        model.LinearWeights.Select(w => ModuleOf(w.Name)).Select(m => m[(m.LastIndexOf('.') + 1)..]).Distinct().ToArray();

    /// <summary>PEFT's check: the module path equals the target or ends with "." + target.</summary>
    public static bool Matches(string module, string target) =>
        module == target || module.EndsWith("." + target, StringComparison.Ordinal);
}
