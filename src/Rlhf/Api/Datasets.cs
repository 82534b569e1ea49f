// Datasets from files, through the same pipeline the CLI's trainers read them with (format detection, hh-rlhf
// splitting, the default prompt template, one-line errors naming file and line).
using Rlhf.Data;

namespace Rlhf;

/// <summary>Reads training data from JSON Lines files (.jsonl or .jsonl.gz) as <c>rlhf sft</c> / <c>rlhf dpo</c> / <c>rlhf ppo</c> do.</summary>
public static class Datasets
{
    /// <summary>
    /// Preference pairs from a file in any format <c>rlhf data</c> detects (hh-rlhf, prompt/chosen/rejected,
    /// conversational). Prompts come back rendered with the CLI's default template, ready for the trainers.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="Data.DataFormatException">A row is malformed (the message names the file and line).</exception>
    public static IReadOnlyList<PreferenceExample> ReadPreferences(string path)
    {
        RequireFile(path);
        var options = new DataPipelineOptions { Task = DataTask.Dpo, FlattenMessages = true }; // no model, so no chat template: messages take the default template
        return PreferencePipeline.Run(path, options).Examples
            .Select(p => new PreferenceExample(p.Prompt, WithoutEos(p.Chosen, options), WithoutEos(p.Rejected, options))).ToArray();
    }

    /// <summary>Instruction/response (or prompt/completion, hh-rlhf, messages) rows as SFT demonstrations, prompts rendered.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="Data.DataFormatException">A row is malformed (the message names the file and line).</exception>
    public static IReadOnlyList<Demonstration> ReadDemonstrations(string path)
    {
        RequireFile(path);
        var options = new DataPipelineOptions { Task = DataTask.Sft, FlattenMessages = true };
        return SftPipeline.Run(path, options).Examples
            .Select(e => new Demonstration(e.Instruction, WithoutEos(e.Response, options))).ToArray();
    }

    /// <summary>
    /// Prompts for <see cref="PpoTrainer"/> and <see cref="GrpoTrainer"/>, read as <c>rlhf ppo</c> reads its dataset: plain
    /// text lines, JSON Lines / JSON rows with a <c>prompt</c> (or <c>instruction</c>, <c>question</c>) string or message
    /// list (flattened), rows with only an hh-rlhf <c>chosen</c> dialogue (its human turn), or a whole hh-rlhf file (the
    /// textbook's PPO queries). Prompts come back rendered with the CLI's default template; empty ones are left out.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="Data.DataFormatException">A row is malformed or has no prompt (the message names the file and line).</exception>
    public static IReadOnlyList<string> ReadPrompts(string path)
    {
        RequireFile(path);
        if (PromptRows.IsHhRlhf(path)) return PpoQueries.Run(path, new DataPipelineOptions { Task = DataTask.Ppo }).Examples;
        return PromptRows.Read(path, chatTemplate: null, hhChosen: true, flattenMessages: true)
            .Where(p => !string.IsNullOrWhiteSpace(p.Text)).Select(p => PromptStyle.Default.Render(p.Text)).ToArray();
    }

    /// <summary>The pipeline renders responses with the EOS text; the trainers append the EOS id themselves.</summary>
    private static string WithoutEos(string response, DataPipelineOptions options) =>
        response.EndsWith(options.Eos, StringComparison.Ordinal) ? response[..^options.Eos.Length] : response;

    private static void RequireFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The data file '{path}' does not exist.", path);
    }
}
