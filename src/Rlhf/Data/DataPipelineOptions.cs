// Options shared by the preference and SFT pipelines (format, filters, template, EOS, token-length limits).
namespace Rlhf.Data;

/// <summary>How hh-rlhf dialogues become (instruction, answer).</summary>
public enum HhExtraction
{
    /// <summary>The seed's <see cref="HhDialogue.ExtractConversation"/> (first question, text after the first "Assistant: ").</summary>
    Seed,

    /// <summary><see cref="HhDialogue.ExtractLastTurn"/>: the dialogue before the last assistant turn, and that turn.</summary>
    LastTurn,
}

/// <summary>
/// Options for <see cref="PreferencePipeline"/> and <see cref="SftPipeline"/>. Defaults follow seed 003 except
/// <see cref="LetMeExplain"/> (off: the pair's own chosen/rejected answers are used, as in seed 000's reward data).
/// </summary>
public sealed record DataPipelineOptions
{
    /// <summary>Row format; <see cref="DataFormat.Auto"/> detects it from the first good row.</summary>
    public DataFormat Format { get; init; } = DataFormat.Auto;

    /// <summary>Drop multi-turn rows (seed: <c>chosen.count("Human: ") &gt;= 2 or rejected.count("Human: ") &gt;= 2</c>).</summary>
    public bool SingleTurnOnly { get; init; } = true;

    public HhExtraction Extraction { get; init; } = HhExtraction.Seed;

    /// <summary>The template that renders prompts and responses; <see cref="PromptTemplate.Raw"/> for pre-rendered data.</summary>
    public PromptTemplate Template { get; init; } = PromptTemplate.Default;

    /// <summary>The EOS text the template appends (GPT-2's <c>&lt;|endoftext|&gt;</c>).</summary>
    public string Eos { get; init; } = "<|endoftext|>";

    /// <summary>Measures token lengths; null skips the length filter.</summary>
    public ITextEncoder? Encoder { get; init; }

    /// <summary>Largest prompt + response length in tokens (seed: 512).</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>Largest prompt length in tokens (seed: 256).</summary>
    public int MaxPromptLength { get; init; } = 256;

    /// <summary>Also require prompt + rejected ≤ <see cref="MaxLength"/> (the seed checks the chosen response only).</summary>
    public bool CheckRejectedLength { get; init; }

    /// <summary>
    /// Seed 001/003 recipe: chosen = "Let me explain. " + answer + eos, rejected = answer + eos, from the chosen text
    /// only; answers already starting with "let me explain" (any case) are skipped.
    /// </summary>
    public bool LetMeExplain { get; init; }

    /// <summary>Count malformed rows in the report and go on, instead of throwing.</summary>
    public bool SkipBadRows { get; init; }

    /// <summary>Longest line or array element read, in characters (<see cref="DataRowReader.DefaultMaxLineLength"/>).</summary>
    public int MaxLineLength { get; init; } = DataRowReader.DefaultMaxLineLength;

    /// <summary>Seed 003's DPO data preparation exactly: single-turn, Let-me-explain, default template, 256/512.</summary>
    public static DataPipelineOptions Seed003(ITextEncoder? encoder) => new() { Encoder = encoder, LetMeExplain = true };

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad value.</summary>
    public void Validate()
    {
        if (MaxLineLength <= 0)
            throw new ArgumentException($"MaxLineLength must be positive (got {MaxLineLength})");
        if (MaxLength <= 0)
            throw new ArgumentException($"MaxLength must be positive (got {MaxLength})");
        if (MaxPromptLength <= 0 || MaxPromptLength > MaxLength)
            throw new ArgumentException($"MaxPromptLength must be in 1..MaxLength={MaxLength} (got {MaxPromptLength})");
        ArgumentNullException.ThrowIfNull(Template);
        ArgumentNullException.ThrowIfNull(Eos);
        if (!Enum.IsDefined(Format))
            throw new ArgumentException($"unknown Format {(int)Format}");
    }
}

/// <summary>A pipeline's output: the examples and the counts report.</summary>
public sealed record PipelineResult<T>(IReadOnlyList<T> Examples, DataReport Report);
