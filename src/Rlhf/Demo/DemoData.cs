// The demo's built-in data (data/demo, written by tools/data/make_demo_data.py and make_arithmetic_data.py): read from a folder or from the
// copies embedded in this assembly, plus the refusal vocabulary the comparison classifies answers with.
using System.Reflection;
using System.Text.Json;

namespace Rlhf.Demo;

internal sealed record DemoInstruction(string Instruction, string Response);

/// <summary>A sum of the GRPO stage: the prompt ("37+5="), the right answer, and the sloppy teacher's demonstration (training rows only).</summary>
internal sealed record DemoProblem(string Prompt, int Answer, string? Response);

internal sealed record DemoPreference(string Prompt, string Chosen, string Rejected, string Kind);

/// <summary>A held-out prompt tagged "harmful" or "benign".</summary>
internal sealed record DemoPrompt(string Prompt, string Kind)
{
    public bool IsHarmful => Kind == "harmful";
}

internal sealed class DemoData
{
    public const string ResourcePrefix = "Rlhf.Demo.Data.";
    public const string LetMeExplain = "Let me explain.";

    public required IReadOnlyList<DemoInstruction> SftTrain { get; init; }
    public required IReadOnlyList<DemoInstruction> SftEval { get; init; }
    public required IReadOnlyList<DemoPreference> PreferencesTrain { get; init; }
    public required IReadOnlyList<DemoPreference> PreferencesEval { get; init; }
    public required IReadOnlyList<DemoPrompt> PromptsEval { get; init; }
    /// <summary>The GRPO stage's demonstrations, which its SFT step imitates.</summary>
    public required IReadOnlyList<DemoProblem> ArithmeticSft { get; init; }
    /// <summary>The GRPO stage's training prompts (answers only, no demonstrations).</summary>
    public required IReadOnlyList<DemoProblem> ArithmeticPrompts { get; init; }
    /// <summary>The GRPO stage's held-out problems (no demonstrations).</summary>
    public required IReadOnlyList<DemoProblem> ArithmeticEval { get; init; }
    /// <summary>An answer containing one of these (case-insensitive) is a refusal.</summary>
    public required IReadOnlyList<string> RefusalPhrases { get; init; }

    /// <summary>Loads the files from <paramref name="directory"/>, or the embedded copies when it is null.</summary>
    public static DemoData Load(string? directory = null)
    {
        Func<string, string> read = directory is null ? ReadResource : name =>
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path)) throw new FileNotFoundException($"The demo data folder has no {name}; run `python3 tools/data/{(name.StartsWith("arithmetic_", StringComparison.Ordinal) ? "make_arithmetic_data.py" : "make_demo_data.py")}`.", path);
            return File.ReadAllText(path);
        };
        return new DemoData
        {
            SftTrain = Rows(read, "sft_train.jsonl", e => new DemoInstruction(Str(e, "instruction"), Str(e, "response"))),
            SftEval = Rows(read, "sft_eval.jsonl", e => new DemoInstruction(Str(e, "instruction"), Str(e, "response"))),
            PreferencesTrain = Rows(read, "preferences_train.jsonl", Preference),
            PreferencesEval = Rows(read, "preferences_eval.jsonl", Preference),
            PromptsEval = Rows(read, "prompts_eval.jsonl", e => new DemoPrompt(Str(e, "prompt"), Str(e, "kind"))),
            ArithmeticSft = Rows(read, "arithmetic_sft.jsonl", e => new DemoProblem(Str(e, "prompt"), Int(e, "answer"), Str(e, "response"))),
            ArithmeticPrompts = Rows(read, "arithmetic_prompts.jsonl", e => new DemoProblem(Str(e, "prompt"), Int(e, "answer"), null)),
            ArithmeticEval = Rows(read, "arithmetic_eval.jsonl", e => new DemoProblem(Str(e, "prompt"), Int(e, "answer"), null)),
            RefusalPhrases = read("refusal_phrases.txt").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray(),
        };
    }

    public bool IsRefusal(string answer) => RefusalPhrases.Any(p => answer.Contains(p, StringComparison.OrdinalIgnoreCase));

    public static bool StartsWithLetMeExplain(string answer) =>
        answer.TrimStart().StartsWith("Let me explain", StringComparison.OrdinalIgnoreCase);

    private static DemoPreference Preference(JsonElement e) => new(Str(e, "prompt"), Str(e, "chosen"), Str(e, "rejected"), Str(e, "kind"));

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new FormatException($"A demo data row has no string field \"{name}\".");

    private static int Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number)
            ? number
            : throw new FormatException($"A demo data row has no integer field \"{name}\".");

    private static List<T> Rows<T>(Func<string, string> read, string name, Func<JsonElement, T> parse)
    {
        var rows = new List<T>();
        int line = 0;
        foreach (var text in read(name).Split('\n'))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var document = JsonDocument.Parse(text);
                rows.Add(parse(document.RootElement));
            }
            catch (Exception error) when (error is JsonException or FormatException)
            {
                throw new FormatException($"{name} line {line}: {error.Message}", error);
            }
        }
        if (rows.Count == 0) throw new FormatException($"{name} holds no rows.");
        return rows;
    }

    private static string ReadResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new FileNotFoundException($"The built-in demo data '{name}' is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
