// Loads and saves GPT-2 parameters as Hugging Face model.safetensors (Hub and transformers naming both accepted).
using System.Text.RegularExpressions;
using Rlhf.Tensors;

namespace Rlhf.Models.Gpt2;

/// <summary>
/// Moves a <see cref="ParameterSet"/> (names like <c>transformer.h.0.attn.c_attn.weight</c>) to and from safetensors.
/// Hub GPT-2 files omit the <c>transformer.</c> prefix; files saved by transformers have it. Both load.
/// </summary>
public static partial class Gpt2Checkpoint
{
    public const string Prefix = "transformer.";

    /// <summary>
    /// Fills every parameter from the file. Attention-mask buffers (<c>h.N.attn.bias</c>, <c>h.N.attn.masked_bias</c>)
    /// and <c>lm_head.weight</c> (tied to <c>wte</c>) are ignored. Everything is validated before any parameter is
    /// written, so on <see cref="ModelFormatException"/> the parameters are unchanged.
    /// </summary>
    /// <param name="optional">Parameters that may be absent from the file (a fresh head on a pretrained backbone);
    /// they keep their current values. Returns the names that were absent.</param>
    /// <param name="ignoreExtra">Tensors the file may hold beyond this model's (e.g. a reward model's score head
    /// when only the backbone is wanted).</param>
    public static IReadOnlyList<string> LoadWeights(string safetensorsPath, ParameterSet parameters,
        IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(safetensorsPath);
        ArgumentNullException.ThrowIfNull(parameters);
        using var file = SafeTensors.Open(safetensorsPath);

        var plan = new List<(Parameter Parameter, SafeTensorInfo Source)>(parameters.Parameters.Count);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var absent = new List<string>();
        foreach (var parameter in parameters.Parameters)
        {
            SafeTensorInfo? source = null;
            foreach (string candidate in Candidates(parameter.Name))
                if (file.Tensors.TryGetValue(candidate, out source)) break;
            if (source is null)
            {
                if (optional?.Contains(parameter.Name) == true) absent.Add(parameter.Name);
                else missing.Add(parameter.Name);
                continue;
            }
            if (!source.Shape.SequenceEqual(parameter.Value.Shape))
                throw new ModelFormatException(safetensorsPath,
                    $"tensor '{source.Name}' has shape {source.ShapeText} but parameter '{parameter.Name}' expects {SafeTensors.FormatShape(parameter.Value.Shape)}; " +
                    "check that config.json matches this checkpoint.");
            if (!SafeTensors.ReadableDTypes.Contains(source.DType))
                throw new ModelFormatException(safetensorsPath,
                    $"tensor '{source.Name}' has dtype {source.DType}; only {string.Join(", ", SafeTensors.ReadableDTypes)} can be loaded. Convert the checkpoint to float32.");
            used.Add(source.Name);
            plan.Add((parameter, source));
        }
        if (missing.Count > 0)
            throw new ModelFormatException(safetensorsPath,
                $"{missing.Count} parameter(s) have no tensor in the file: {Summarize(missing)} (looked for each name with and without the '{Prefix}' prefix); " +
                "check that config.json matches this checkpoint.");

        var unexpected = file.Tensors.Keys.Where(name => !used.Contains(name) && !IsIgnored(name) && ignoreExtra?.Invoke(name) != true)
            .Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new ModelFormatException(safetensorsPath,
                $"{unexpected.Count} tensor(s) in the file match no parameter of this model: {Summarize(unexpected)}; check that config.json matches this checkpoint.");

        foreach (var (parameter, source) in plan) file.ReadInto(source.Name, parameter.Value.Span);
        return absent;
    }

    /// <summary>
    /// Writes every parameter under its own name (with the <c>transformer.</c> prefix) as F32 with metadata
    /// <c>{"format": "pt"}</c>, which <c>transformers</c> expects. Atomic.
    /// </summary>
    /// <param name="include">Which parameters to write (default: all), e.g. the backbone without a value head.</param>
    public static void SaveWeights(string safetensorsPath, ParameterSet parameters, Func<string, bool>? include = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(safetensorsPath);
        ArgumentNullException.ThrowIfNull(parameters);
        SafeTensors.Write(safetensorsPath,
            parameters.Parameters.Where(p => include?.Invoke(p.Name) ?? true).Select(p => (p.Name, p.Value)),
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static IEnumerable<string> Candidates(string name)
    {
        yield return name;
        yield return name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : Prefix + name;
    }

    private static bool IsIgnored(string name)
    {
        if (name == "lm_head.weight") return true;
        if (name.StartsWith(Prefix, StringComparison.Ordinal)) name = name[Prefix.Length..];
        return AttentionBuffer().IsMatch(name);
    }

    private static string Summarize(List<string> names) =>
        string.Join(", ", names.Take(8).Select(n => $"'{n}'")) + (names.Count > 8 ? $" and {names.Count - 8} more" : "");

    [GeneratedRegex(@"^h\.\d+\.attn\.(bias|masked_bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex AttentionBuffer();
}
