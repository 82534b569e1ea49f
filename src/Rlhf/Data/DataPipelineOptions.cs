// Options shared by the preference and SFT pipelines (format, filters, template, EOS, token-length limits).
namespace Rlhf.Data;

/// <summary>How hh-rlhf dialogues become (instruction, answer).</summary>
internal enum HhExtraction
{
    /// <summary>The textbook's <see cref="HhDialogue.ExtractConversation"/> (first question, text after the first "Assistant: ").</summary>
    Seed,

    /// <summary><see cref="HhDialogue.ExtractLastTurn"/>: the dialogue before the last assistant turn, and that turn.</summary>
    LastTurn,
}

/// <summary>Which trainer the rows are for: it decides how lengths are measured (see <see cref="DataPipelineOptions.Task"/>).</summary>
internal enum DataTask
{
    Sft,
    Reward,
    Dpo,
    Ppo,
}

/// <summary>
/// Options for <see cref="PreferencePipeline"/>, <see cref="SftPipeline"/> and <see cref="PpoQueries"/>. The defaults are
/// the textbook's reward-data steps; steps the textbook lacks (<see cref="DropEmptyAnswers"/>,
/// <see cref="DropIdenticalPairs"/>, <see cref="CheckRejectedLength"/>) are off.
/// </summary>
internal sealed record DataPipelineOptions
{
    /// <summary>
    /// The trainer the rows are for. <see cref="DataTask.Reward"/> and <see cref="DataTask.Ppo"/>: the whole rendered
    /// text tokenized at once (a reward model's view), chosen and rejected each ≤ <see cref="MaxLength"/>, no prompt
    /// limit (the textbook's reward data). <see cref="DataTask.Dpo"/> and <see cref="DataTask.Sft"/>: prompt and
    /// response tokenized apart (the policy's view), prompt ≤ <see cref="MaxPromptLength"/> and prompt + chosen ≤
    /// <see cref="MaxLength"/> (the textbook's DPO <c>filter_length</c>).
    /// </summary>
    public DataTask Task { get; init; } = DataTask.Reward;

    /// <summary>The EOS id appended after a response when the template writes no EOS text (counted in lengths).</summary>
    public int? EosTokenId { get; init; }

    /// <summary>Drop pairs whose instruction or an answer is empty (the textbook keeps them in its reward data).</summary>
    public bool DropEmptyAnswers { get; init; }

    /// <summary>Drop pairs whose chosen and rejected responses are the same text (not a textbook step).</summary>
    public bool DropIdenticalPairs { get; init; }

    /// <summary>PPO only: the longest query in tokens (context minus new tokens); null = no limit (the textbook has none).</summary>
    public int? MaxQueryLength { get; init; }

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

    /// <summary>DPO/SFT: also require prompt + rejected ≤ <see cref="MaxLength"/> (the textbook's DPO checks chosen only).</summary>
    public bool CheckRejectedLength { get; init; }

    /// <summary>
    /// The textbook's DPO recipe: chosen = "Let me explain. " + answer + eos, rejected = answer + eos, from the chosen
    /// text only; an empty question or answer is skipped, and so are answers already starting with "let me explain"
    /// (any case).
    /// </summary>
    public bool LetMeExplain { get; init; }

    /// <summary>Count malformed rows in the report and go on, instead of throwing.</summary>
    public bool SkipBadRows { get; init; }

    /// <summary>Longest line or array element read, in characters (<see cref="DataRowReader.DefaultMaxLineLength"/>).</summary>
    public int MaxLineLength { get; init; } = DataRowReader.DefaultMaxLineLength;

    /// <summary>The textbook's DPO data preparation exactly: single-turn, Let-me-explain, default template, 256/512 apart.</summary>
    public static DataPipelineOptions Seed003(ITextEncoder? encoder) => new() { Encoder = encoder, LetMeExplain = true, Task = DataTask.Dpo };

    /// <summary>The textbook's reward-model data exactly: single-turn, extraction, template with EOS, whole texts ≤ 512.</summary>
    public static DataPipelineOptions TextbookReward(ITextEncoder? encoder) => new() { Encoder = encoder };

    /// <summary>True when lengths are those of the whole rendered text (reward models), false for prompt and response apart.</summary>
    public bool MeasuresWholeText => Task is DataTask.Reward or DataTask.Ppo;

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
        if (!Enum.IsDefined(Task))
            throw new ArgumentException($"unknown Task {(int)Task}");
        if (MaxQueryLength is <= 0)
            throw new ArgumentException($"MaxQueryLength must be positive (got {MaxQueryLength})");
    }
}

/// <summary>A pipeline's output: the examples and the counts report.</summary>
internal sealed record PipelineResult<T>(IReadOnlyList<T> Examples, DataReport Report);
