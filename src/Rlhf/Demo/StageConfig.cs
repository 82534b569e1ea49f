// The resolved settings of one demo stage, written as rlhf_config.yaml in its folder (as every training command writes
// one): the keys are the snake_case names of the matching command's options; settings only the demo has are comments.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Training;

namespace Rlhf.Demo;

internal static class StageConfig
{
    public const string FileName = "rlhf_config.yaml";

    /// <summary>
    /// Writes <see cref="FileName"/> into <paramref name="directory"/>: <paramref name="arguments"/> (transformers' names)
    /// and <paramref name="extra"/> as keys that <paramref name="command"/>'s --config reads (where it takes one),
    /// <paramref name="notes"/> as comment lines.
    /// </summary>
    public static void Write(string directory, string stage, string command, TrainingArguments? arguments, IEnumerable<KeyValuePair<string, object?>> extra,
        IEnumerable<string> notes)
    {
        var text = new StringBuilder();
        text.AppendLine($"# rlhf demo, stage {stage}: the resolved settings of this stage, named as the options of `rlhf {command}`.");
        foreach (var note in notes) text.AppendLine("# " + note);
        var values = new List<KeyValuePair<string, object?>>();
        if (arguments is not null)
        {
            values.AddRange(
            [
                new("output_dir", arguments.OutputDir), new("num_train_epochs", arguments.NumTrainEpochs), new("max_steps", arguments.MaxSteps),
                new("per_device_train_batch_size", arguments.PerDeviceTrainBatchSize), new("per_device_eval_batch_size", arguments.PerDeviceEvalBatchSize),
                new("gradient_accumulation_steps", arguments.GradientAccumulationSteps), new("learning_rate", arguments.LearningRate),
                new("weight_decay", arguments.WeightDecay), new("max_grad_norm", arguments.MaxGradNorm), new("lr_scheduler_type", arguments.LrSchedulerType),
                new("warmup_ratio", arguments.WarmupRatio), new("warmup_steps", arguments.WarmupSteps), new("logging_steps", arguments.LoggingSteps),
                new("eval_steps", arguments.EvalSteps), new("save_steps", arguments.SaveSteps), new("seed", arguments.Seed),
            ]);
        }
        values.AddRange(extra);
        foreach (var (key, value) in values) text.AppendLine($"{key}: {Scalar(value)}");
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, FileName), stream => stream.Write(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>A YAML scalar: numbers and booleans plain (invariant culture), strings double-quoted (JSON is valid YAML), null as ~.</summary>
    private static string Scalar(object? value) => value switch
    {
        null => "~",
        bool b => b ? "true" : "false",
        string s => JsonSerializer.Serialize(s),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => JsonSerializer.Serialize(value.ToString()),
    };
}
