// Options that choose and filter training data (format, template, single-turn, Let-me-explain, token-length limits),
// shared by `rlhf data`, `sft`, `reward` and `dpo`, and the tokenisation of rendered examples (prompt and response apart).
using System.CommandLine;
using Rlhf.Data;
using Rlhf.Text;

namespace Rlhf.Cli.Commands;

internal sealed class DataOptions
{
    public static readonly string[] FormatNames = ["auto", "hh-rlhf", "explicit", "conversational", "instruction", "ranked"];

    public Option<string?> Dataset { get; } = new("--dataset") { Description = "Data file: JSONL or JSON array, optionally gzip-compressed." };
    public Option<string> Format { get; } = new("--format") { Description = "Row format: " + string.Join(", ", FormatNames) + ".", DefaultValueFactory = _ => "auto" };
    public Option<string?> Template { get; } = new("--template") { Description = $"Prompt template with {{instruction}}, {{response}}, {{eos}} ({PromptStyle.EscapeHelp}; default \"{PromptTemplate.DefaultText.Replace("\n", "\\n")}\")." };
    public Option<bool> Raw { get; } = new("--raw") { Description = "Use prompts and responses as they are (no template, no EOS text; EOS id still appended)." };
    public Option<int> MaxLength { get; }
    public Option<int?> MaxPromptLength { get; }
    public Option<bool> NoSingleTurn { get; } = new("--no-single-turn") { Description = "Keep multi-turn dialogues (the textbook's hh-rlhf preparation keeps single-turn rows only)." };
    public Option<bool> LetMeExplain { get; } = new("--let-me-explain") { Description = "The textbook's DPO example pairs: chosen = \"Let me explain. \" + answer, rejected = answer." };
    public Option<bool> SkipBadRows { get; } = new("--skip-bad-rows") { Description = "Count malformed rows and go on instead of stopping." };
    public Option<int> MaxLineLength { get; } = CreateMaxLineLength();

    /// <summary>--max-line-length, for the commands that read a --dataset without the other data options (ppo, grpo, score).</summary>
    public static Option<int> CreateMaxLineLength() => new("--max-line-length")
    {
        Description = "Longest line (or JSON array element) read from the data, in characters after decompression; longer ones are bad rows.",
        DefaultValueFactory = _ => DataRowReader.DefaultMaxLineLength,
    };

    /// <summary>The --max-line-length value, checked.</summary>
    public static int ResolveMaxLineLength(CommandSettings settings, Option<int> option) =>
        settings.Get(option) > 0 ? settings.Get(option) : throw new ArgumentException("--max-line-length must be positive.");

    public Option<bool> DropEmptyAnswers { get; } = new("--drop-empty-answers") { Description = "Drop examples whose prompt or an answer is empty (the textbook keeps them)." };
    public Option<bool> DropIdenticalPairs { get; } = new("--drop-identical-pairs") { Description = "Drop preference pairs whose chosen and rejected texts are the same (not a textbook step)." };
    public Option<bool> CheckRejectedLength { get; } = new("--check-rejected-length") { Description = "Also drop pairs whose prompt + rejected is longer than --max-length (the textbook checks chosen only)." };
    public Option<string> HhExtraction { get; } = new("--hh-extraction")
    {
        Description = "How an hh-rlhf dialogue becomes prompt and answer: first-turn (the textbook: the first question, the text after the first \"Assistant: \") or last-turn (the dialogue before the last assistant turn, and that turn).",
        DefaultValueFactory = _ => "first-turn",
    };

    private readonly bool letMeExplain;

    /// <param name="maxPromptLength">The --max-prompt-length default; null: the task's (<see cref="DefaultMaxPromptLength"/>).</param>
    public DataOptions(int maxLength = 512, int? maxPromptLength = 256, bool letMeExplain = true)
    {
        this.letMeExplain = letMeExplain;
        MaxLength = new("--max-length") { Description = "Longest prompt + response in tokens (reward models: each whole text); longer examples are dropped.", DefaultValueFactory = _ => maxLength };
        MaxPromptLength = maxPromptLength is int promptDefault
            ? new("--max-prompt-length") { Description = "Longest prompt in tokens; longer examples are dropped.", DefaultValueFactory = _ => promptDefault }
            : new("--max-prompt-length") { Description = "Longest prompt in tokens; longer examples are dropped (default: 256 for dpo and ppo, 512 for sft; reward data has no prompt limit)." };
        Format.AcceptOnlyFromAmong(FormatNames);
        HhExtraction.AcceptOnlyFromAmong("first-turn", "last-turn");
    }

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Dataset, Format, Template, Raw, MaxLength, MaxPromptLength, NoSingleTurn, SkipBadRows, MaxLineLength,
            DropEmptyAnswers, DropIdenticalPairs, CheckRejectedLength, HhExtraction })
            command.Options.Add(option);
        if (letMeExplain) command.Options.Add(LetMeExplain);
    }

    public static DataFormat ParseFormat(string name) => name switch
    {
        "auto" => DataFormat.Auto,
        "hh-rlhf" => DataFormat.HhRlhf,
        "explicit" => DataFormat.PreferenceExplicit,
        "conversational" => DataFormat.PreferenceConversational,
        "instruction" => DataFormat.Instruction,
        "ranked" => DataFormat.Ranked,
        _ => throw new ArgumentException($"Unknown --format '{name}'; use one of {string.Join(", ", FormatNames)}."),
    };

    /// <summary>The template from --template / --raw (the textbook's template by default), read as every command reads it.</summary>
    public PromptTemplate ResolveTemplate(CommandSettings settings)
    {
        var template = PromptStyle.Resolve(settings.Get(Template), settings.Get(Raw)).Template;
        settings.Record("template", template.Text);
        return template;
    }

    /// <summary>The --dataset file, checked with the template and format before any model or data is loaded.</summary>
    public string CheckEarly(CommandSettings settings)
    {
        string dataset = InputFiles.RequireFile(settings.Require(Dataset), "--dataset");
        ResolveTemplate(settings);
        ParseFormat(settings.Get(Format));
        return dataset;
    }

    /// <summary>
    /// Pipeline options; <paramref name="tokenizer"/> measures lengths (null skips the length filter), and
    /// <paramref name="modelFolder"/>'s chat template renders conversational rows.
    /// <paramref name="contextLength"/> caps --max-length at what the model can hold.
    /// </summary>
    public DataPipelineOptions Resolve(CommandSettings settings, BpeTokenizer? tokenizer, int? contextLength, DataTask task, string? modelFolder = null)
    {
        // Conversational rows render with the folder's chat template; --template / --raw flatten them into that template instead.
        bool templateChosen = settings.Get(Template) is not null || settings.Get(Raw);
        var chat = !templateChosen && modelFolder is not null && Directory.Exists(modelFolder) ? ChatTemplate.TryLoad(modelFolder) : null;
        int maxLength = settings.Get(MaxLength);
        // A prompt longer than the whole limit cannot fit anyway, so the prompt limit never exceeds it.
        int maxPromptLength = Math.Min(maxLength, settings.Get(MaxPromptLength) ?? DefaultMaxPromptLength(task));
        if (contextLength is int context && maxLength > context)
        {
            maxLength = context;
            settings.Record("max-length", maxLength);
            maxPromptLength = Math.Min(maxPromptLength, Math.Max(1, context / 2));
            settings.Record("max-prompt-length", maxPromptLength);
        }
        return new DataPipelineOptions
        {
            Format = ParseFormat(settings.Get(Format)),
            Template = ResolveTemplate(settings),
            ChatTemplate = chat,
            FlattenMessages = templateChosen,
            SingleTurnOnly = !settings.Get(NoSingleTurn),
            LetMeExplain = letMeExplain && settings.Get(LetMeExplain),
            SkipBadRows = settings.Get(SkipBadRows),
            DropEmptyAnswers = settings.Get(DropEmptyAnswers),
            DropIdenticalPairs = settings.Get(DropIdenticalPairs),
            CheckRejectedLength = settings.Get(CheckRejectedLength),
            Extraction = settings.Get(HhExtraction) == "last-turn" ? Rlhf.Data.HhExtraction.LastTurn : Rlhf.Data.HhExtraction.Seed,
            MaxLineLength = ResolveMaxLineLength(settings, MaxLineLength),
            MaxLength = maxLength,
            MaxPromptLength = maxPromptLength,
            Encoder = tokenizer is null ? null : new DelegateTextEncoder(text => tokenizer.Encode(text)),
            Eos = tokenizer?.EosToken ?? "<|endoftext|>",
            EosTokenId = tokenizer?.EosTokenId,
            Task = task,
        };
    }

    /// <summary>The trainers' --max-prompt-length defaults: the textbook's DPO limit 256 (dpo, ppo), else 512.</summary>
    public static int DefaultMaxPromptLength(DataTask task) => task is DataTask.Dpo or DataTask.Ppo ? 256 : 512;

    /// <summary>Ids of a rendered response, ending with the EOS id (appended unless the text already ends with it).</summary>
    public static int[] EncodeResponse(BpeTokenizer tokenizer, string response, PromptTemplate template, int? eosTokenId) =>
        TokenSequences.Response(new DelegateTextEncoder(text => tokenizer.Encode(text)), response, template, eosTokenId);
}
