// Loads and saves GPT-2 parameters as Hugging Face model.safetensors (Hub and transformers naming both accepted).
using System.Text.RegularExpressions;
using Rlhf.Tensors;

namespace Rlhf.Models.Gpt2;

/// <summary>
/// Moves a <see cref="ParameterSet"/> (names like <c>transformer.h.0.attn.c_attn.weight</c>) to and from safetensors.
/// Hub GPT-2 files omit the <c>transformer.</c> prefix; files saved by transformers have it. Both load.
/// </summary>
internal static partial class Gpt2Checkpoint
{
    public const string Prefix = "transformer.";

    /// <summary>
    /// Fills every parameter from the file. Attention-mask buffers (<c>h.N.attn.bias</c>, <c>h.N.attn.masked_bias</c>)
    /// are ignored; <c>lm_head.weight</c>, when present, must equal <c>wte</c> (the head is tied). Everything is
    /// validated before any parameter is written, so on <see cref="ModelFormatException"/> the parameters are unchanged.
    /// </summary>
    /// <param name="optional">Parameters that may be absent from the file (a fresh head on a pretrained backbone);
    /// they keep their current values. Returns the names that were absent.</param>
    /// <param name="ignoreExtra">Tensors the file may hold beyond this model's (e.g. a reward model's score head
    /// when only the backbone is wanted).</param>
    public static IReadOnlyList<string> LoadWeights(string safetensorsPath, ParameterSet parameters,
        IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(safetensorsPath);
        using var reader = CheckpointReader.OpenFile(safetensorsPath);
        return LoadWeights(reader, parameters, optional, ignoreExtra);
    }

    /// <summary>As above, from a single file or a sharded checkpoint.</summary>
    public static IReadOnlyList<string> LoadWeights(CheckpointReader reader, ParameterSet parameters,
        IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null) =>
        CheckpointLoader.Load(reader, parameters, Names, optional, ignoreExtra, [("lm_head.weight", Prefix + "wte.weight")]);

    private static readonly CheckpointNames Names = new(name => CheckpointLoader.WithOrWithoutPrefix(name, Prefix), IsIgnored,
        $"(looked for each name with and without the '{Prefix}' prefix)");

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

    private static bool IsIgnored(string name)
    {
        if (name.StartsWith(Prefix, StringComparison.Ordinal)) name = name[Prefix.Length..];
        return AttentionBuffer().IsMatch(name);
    }

    [GeneratedRegex(@"^h\.\d+\.attn\.(bias|masked_bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex AttentionBuffer();
}
