// Fills a parameter set from a checkpoint by Hugging Face names, validating everything before any value changes.
using Rlhf.Tensors;

namespace Rlhf.Models;

/// <summary>How a family's parameter names map onto the tensor names checkpoints use.</summary>
/// <param name="Candidates">The tensor names that may hold a parameter, best first (e.g. with and without "model.").</param>
/// <param name="IsIgnored">Tensors that are not parameters (attention-mask or rotary buffers) and are skipped.</param>
/// <param name="PrefixNote">Added to the missing-tensor message, e.g. "(looked for each name with and without the 'model.' prefix)".</param>
internal sealed record CheckpointNames(Func<string, IEnumerable<string>> Candidates, Func<string, bool> IsIgnored, string PrefixNote);

internal static class CheckpointLoader
{
    /// <summary>
    /// Reads every parameter from <paramref name="reader"/>. Shapes, dtypes, missing and unexpected tensors are all
    /// checked first, so on <see cref="ModelFormatException"/> the parameters are unchanged. Returns the names in
    /// <paramref name="optional"/> the checkpoint lacked (they keep their values).
    /// </summary>
    /// <param name="ignoreExtra">Tensors the checkpoint may hold beyond these parameters (another head).</param>
    /// <param name="tiedCopies">Tensors that must equal a parameter when present (a tied LM head saved anyway), as
    /// (tensor name, parameter name).</param>
    public static IReadOnlyList<string> Load(CheckpointReader reader, ParameterSet parameters, CheckpointNames names,
        IReadOnlySet<string>? optional = null, Func<string, bool>? ignoreExtra = null, IReadOnlyList<(string Tensor, string Parameter)>? tiedCopies = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(parameters);
        var plan = new List<(Parameter Parameter, SafeTensorInfo Source)>(parameters.Parameters.Count);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var absent = new List<string>();
        foreach (var parameter in parameters.Parameters)
        {
            SafeTensorInfo? source = null;
            foreach (string candidate in names.Candidates(parameter.Name))
                if (reader.Tensors.TryGetValue(candidate, out source)) break;
            if (source is null)
            {
                if (optional?.Contains(parameter.Name) == true) absent.Add(parameter.Name);
                else missing.Add(parameter.Name);
                continue;
            }
            string file = reader.FileOf(source.Name);
            if (!source.Shape.SequenceEqual(parameter.Value.Shape))
                throw new ModelFormatException(file,
                    $"tensor '{source.Name}' has shape {source.ShapeText} but parameter '{parameter.Name}' expects {SafeTensors.FormatShape(parameter.Value.Shape)}; " +
                    "check that config.json matches this checkpoint.");
            if (!SafeTensors.ReadableDTypes.Contains(source.DType))
                throw new ModelFormatException(file,
                    $"tensor '{source.Name}' has dtype {source.DType}; only {string.Join(", ", SafeTensors.ReadableDTypes)} can be loaded. Convert the checkpoint to float32.");
            used.Add(source.Name);
            plan.Add((parameter, source));
        }
        if (missing.Count > 0)
            throw new ModelFormatException(reader.Path,
                $"{missing.Count} parameter(s) have no tensor in the file: {Summarize(missing)} {names.PrefixNote}; " +
                "check that config.json matches this checkpoint.");

        var copies = new List<(SafeTensorInfo Tensor, Parameter Parameter, SafeTensorInfo Source)>();
        foreach (var (tensorName, parameterName) in tiedCopies ?? [])
        {
            if (!reader.Tensors.TryGetValue(tensorName, out var copy) || !parameters.TryGet(parameterName, out var tiedTo)) continue;
            var source = plan.First(p => p.Parameter == tiedTo).Source;
            if (!copy.Shape.SequenceEqual(source.Shape) || !SameValues(reader, copy.Name, source.Name, copy.ElementCount))
                throw new ModelFormatException(reader.FileOf(copy.Name),
                    $"tensor '{copy.Name}' differs from '{source.Name}', but config.json ties them (tie_word_embeddings); set tie_word_embeddings to false for a separate LM head.");
            used.Add(copy.Name);
        }

        var unexpected = reader.Tensors.Keys.Where(name => !used.Contains(name) && !names.IsIgnored(name) && ignoreExtra?.Invoke(name) != true)
            .Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new ModelFormatException(reader.Path,
                $"{unexpected.Count} tensor(s) in the file match no parameter of this model: {Summarize(unexpected)}; check that config.json matches this checkpoint.");

        foreach (var (parameter, source) in plan) reader.ReadInto(source.Name, parameter.Value.Span);
        return absent;
    }

    private static bool SameValues(CheckpointReader reader, string a, string b, long count)
    {
        var x = new float[count];
        var y = new float[count];
        reader.ReadInto(a, x);
        reader.ReadInto(b, y);
        return x.AsSpan().SequenceEqual(y);
    }

    /// <summary>Names with and without <paramref name="prefix"/>, parameter names carrying it.</summary>
    public static IEnumerable<string> WithOrWithoutPrefix(string name, string prefix)
    {
        yield return name;
        yield return name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : prefix + name;
    }

    public static string Summarize(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(8).Select(n => $"'{n}'")) + (names.Count > 8 ? $" and {names.Count - 8} more" : "");
}
