// Where training stands: steps, epoch position, the RNG state that fixes the epoch's order, optimizer step count.
using System.Text.Json;
using System.Text.Json.Serialization;
using Rlhf.Models;

namespace Rlhf.Training;

internal sealed class TrainerState
{
    [JsonPropertyName("global_step")] public int GlobalStep { get; set; }
    [JsonPropertyName("epoch")] public double Epoch { get; set; }
    [JsonPropertyName("epoch_index")] public int EpochIndex { get; set; }
    [JsonPropertyName("step_in_epoch")] public int StepInEpoch { get; set; }
    [JsonPropertyName("epoch_rng_state")] public ulong[] EpochRngState { get; set; } = [0, 0, 0, 0];
    [JsonPropertyName("optimizer_step")] public int OptimizerStep { get; set; }
    [JsonPropertyName("skipped_steps")] public int SkippedSteps { get; set; }
    /// <summary>Non-finite steps in a row up to this one (the divergence policy's count).</summary>
    [JsonPropertyName("nonfinite_in_a_row")] public int NonFiniteInARow { get; set; }
    /// <summary>The first step's loss, which the divergence policy compares later losses with.</summary>
    [JsonPropertyName("initial_loss")] public double? InitialLoss { get; set; }
    [JsonPropertyName("extra")] public Dictionary<string, double>? Extra { get; set; }

    /// <summary>The step this run started from (for the ETA); not saved.</summary>
    [JsonIgnore] public int StartStep { get; set; }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public void Save(string path) => AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, this, Options));

    public static TrainerState Load(string path)
    {
        try
        {
            var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path))
                ?? throw new ModelFormatException(path, "The trainer state is empty.");
            if (state.EpochRngState.Length != 4) throw new ModelFormatException(path, "epoch_rng_state must hold 4 numbers.");
            state.StartStep = state.GlobalStep;
            return state;
        }
        catch (JsonException error)
        {
            throw new ModelFormatException(path, $"The trainer state is not valid JSON ({JsonText.Describe(error)}).", error);
        }
    }

    public static void SaveArguments(string path, TrainingArguments arguments) =>
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, arguments, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        }));
}
