// Checkpoints under the output folder: checkpoint-N/ with the model, optimizer moments and trainer state,
// written into a temporary folder and renamed into place, so a crash never leaves a half-written checkpoint.
using System.Text.RegularExpressions;
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Training;

public sealed partial class CheckpointStore(string outputDir, int keepLast)
{
    public const string OptimizerFileName = "optimizer.safetensors";
    public const string StateFileName = "trainer_state.json";

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();

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
        foreach (var parameter in parameters.Parameters)
        {
            long offset = OffsetOf(parameters, parameter);
            yield return ("exp_avg." + parameter.Name, new Tensor(optimizer.FirstMoment, offset, parameter.Value.Shape));
            yield return ("exp_avg_sq." + parameter.Name, new Tensor(optimizer.SecondMoment, offset, parameter.Value.Shape));
        }
    }

    private static unsafe long OffsetOf(ParameterSet parameters, Parameter parameter) => parameter.Value.Pointer - parameters.Values.Pointer;

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
