// Checkpoints under the output folder: checkpoint-N/ with the model, optimizer moments and trainer state,
// written into a temporary folder and renamed into place, so a crash never leaves a half-written checkpoint.
using System.Text.RegularExpressions;
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Training;

internal sealed partial class CheckpointStore(string outputDir, int keepLast)
{
    public const string OptimizerFileName = "optimizer.safetensors";
    public const string StateFileName = "trainer_state.json";

    /// <summary>The file whose presence makes a folder a model (every loader reads it first); written last.</summary>
    public const string ModelMarkerFileName = "config.json";

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();

    /// <summary>Our temporaries: checkpoint and final-save folders, and AtomicFile's <c>name.tmp-&lt;guid&gt;</c> files.</summary>
    [GeneratedRegex(@"^(\.checkpoint-\d+\.tmp-[0-9a-f]{32}|\.final\.tmp-[0-9a-f]{32}|.+\.tmp-[0-9a-f]{32})$")]
    private static partial Regex TemporaryName();

    /// <summary>True when <paramref name="directory"/> holds a finished model (its config.json, which a save writes last).</summary>
    public static bool HoldsModel(string directory) => File.Exists(Path.Combine(directory, ModelMarkerFileName));

    /// <summary>
    /// Deletes what an interrupted run (kill -9, power loss) left half-written in the output folder: our temporary
    /// checkpoint and final-save folders and temp files. Returns how many entries were removed. Only names this class and
    /// AtomicFile create are touched.
    /// </summary>
    public int RemoveLeftovers()
    {
        if (!Directory.Exists(outputDir)) return 0;
        int removed = 0;
        foreach (string path in Directory.EnumerateFileSystemEntries(outputDir).ToArray())
        {
            if (!TemporaryName().IsMatch(Path.GetFileName(path))) continue;
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                else File.Delete(path);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for the next start; a leftover never affects a run.
            }
        }
        return removed;
    }

    /// <summary>
    /// Writes the trained model into the output folder like a checkpoint: everything into a temporary folder first,
    /// then moved in by renames, <see cref="ModelMarkerFileName"/> last (and an old one removed first), so no failure —
    /// a full disk, a crash — leaves a folder that looks like a finished model but is not one.
    /// </summary>
    public void SaveFinal(Action<string> write)
    {
        string temporary = Path.Combine(outputDir, $".final.tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temporary);
            write(temporary);
            string marker = Path.Combine(outputDir, ModelMarkerFileName);
            if (File.Exists(marker)) File.Delete(marker);
            var entries = Directory.GetFileSystemEntries(temporary)
                .OrderBy(path => Path.GetFileName(path) == ModelMarkerFileName ? 1 : 0).ThenBy(path => path, StringComparer.Ordinal);
            foreach (string source in entries)
            {
                string target = Path.Combine(outputDir, Path.GetFileName(source));
                if (Directory.Exists(source))
                {
                    if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                    Directory.Move(source, target);
                }
                else File.Move(source, target, overwrite: true);
            }
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }

    /// <summary>
    /// After divergence: deletes the checkpoints newer than <paramref name="lastGoodStep"/> (they hold diverged weights,
    /// and "latest" would resume from them) and returns the newest one left, or null.
    /// </summary>
    public string? DiscardAfter(int lastGoodStep)
    {
        string? good = null;
        foreach (string path in List())
        {
            if (StepOf(path) > lastGoodStep) Directory.Delete(path, recursive: true);
            else good = path;
        }
        return good;
    }

    /// <summary>Publishes a checkpoint's model (not its optimizer state) as the output folder's model, as <see cref="SaveFinal"/>.</summary>
    public void PublishModelFrom(string checkpoint) => SaveFinal(temporary =>
    {
        foreach (string file in Directory.GetFiles(checkpoint))
        {
            string name = Path.GetFileName(file);
            if (name is OptimizerFileName or StateFileName) continue;
            File.Copy(file, Path.Combine(temporary, name));
        }
    });

    private static int StepOf(string checkpoint) => int.Parse(CheckpointName().Match(Path.GetFileName(checkpoint)).Groups[1].Value);

    /// <summary>Completed checkpoints, oldest first.</summary>
    public IReadOnlyList<string> List()
    {
        if (!Directory.Exists(outputDir)) return [];
        return Directory.GetDirectories(outputDir)
            .Select(path => (path, match: CheckpointName().Match(Path.GetFileName(path))))
            .Where(x => x.match.Success && File.Exists(Path.Combine(x.path, StateFileName)))
            .OrderBy(x => int.Parse(x.match.Groups[1].Value))
            .Select(x => x.path)
            .ToArray();
    }

    /// <summary>
    /// null → no resume; "latest" or "true" → the newest checkpoint in the output folder; otherwise a checkpoint folder.
    /// </summary>
    public string? Resolve(string? request)
    {
        if (string.IsNullOrWhiteSpace(request)) return null;
        if (request is "latest" or "true" or "True")
        {
            var all = List();
            return all.Count > 0 ? all[^1] : throw new IOException($"No checkpoint to resume from in {outputDir}.");
        }
        if (!File.Exists(Path.Combine(request, StateFileName)))
            throw new IOException($"{request} is not a checkpoint folder (it has no {StateFileName}).");
        return request;
    }

    public string Save<TExample>(TrainerState state, ITrainingTask<TExample> task, AdamW optimizer, TrainingArguments arguments)
    {
        string final = Path.Combine(outputDir, $"checkpoint-{state.GlobalStep}");
        string temporary = Path.Combine(outputDir, $".checkpoint-{state.GlobalStep}.tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temporary);
            task.SaveModel(temporary);
            SaveOptimizer(Path.Combine(temporary, OptimizerFileName), task.Parameters, optimizer);
            state.OptimizerStep = optimizer.StepCount;
            state.Save(Path.Combine(temporary, StateFileName));
            TrainerState.SaveArguments(Path.Combine(temporary, "training_args.json"), arguments);
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temporary, final);
        }
        catch
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            throw;
        }
        if (keepLast > 0)
        {
            var all = List();
            for (int i = 0; i < all.Count - keepLast; i++) Directory.Delete(all[i], recursive: true);
        }
        return final;
    }

    public TrainerState Load<TExample>(string directory, ITrainingTask<TExample> task, AdamW optimizer)
    {
        var state = TrainerState.Load(Path.Combine(directory, StateFileName));
        task.LoadModel(directory);
        LoadOptimizer(Path.Combine(directory, OptimizerFileName), task.Parameters, optimizer);
        optimizer.StepCount = state.OptimizerStep;
        return state;
    }

    private static IEnumerable<(string, Tensor)> Moments(ParameterSet parameters, AdamW optimizer)
    {
        foreach (var parameter in parameters.Trainable) // frozen parameters have no optimizer state
        {
            long offset = parameter.GradientOffset;
            yield return ("exp_avg." + parameter.Name, new Tensor(optimizer.FirstMoment, offset, parameter.Value.Shape));
            yield return ("exp_avg_sq." + parameter.Name, new Tensor(optimizer.SecondMoment, offset, parameter.Value.Shape));
        }
    }

    private static void SaveOptimizer(string path, ParameterSet parameters, AdamW optimizer) =>
        SafeTensors.Write(path, Moments(parameters, optimizer).ToArray());

    private static void LoadOptimizer(string path, ParameterSet parameters, AdamW optimizer)
    {
        using var file = SafeTensors.Open(path);
        var moments = Moments(parameters, optimizer).ToArray();
        foreach (var (name, tensor) in moments)
        {
            if (!file.Tensors.TryGetValue(name, out var info))
                throw new ModelFormatException(path, $"The optimizer state has no tensor '{name}'.");
            if (!info.Shape.SequenceEqual(tensor.Shape))
                throw new ModelFormatException(path, $"'{name}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", tensor.Shape)}].");
        }
        foreach (var (name, tensor) in moments) file.ReadInto(name, tensor.Span);
    }
}
