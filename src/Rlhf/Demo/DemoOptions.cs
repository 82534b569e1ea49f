// What `rlhf demo` runs: where it writes, how big (full or --quick), and the sizes of each stage.
namespace Rlhf.Demo;

internal sealed record DemoOptions
{
    public string OutputDir { get; init; } = "demo-output";
    /// <summary>A smaller model and far fewer steps (about 16 s on a quiet 2-core machine); numbers are only sane, not good.</summary>
    public bool Quick { get; init; }
    public ulong Seed { get; init; } = 42;
    /// <summary>A folder with the data/demo files; null uses the copies built into the library.</summary>
    public string? DataDir { get; init; }
    /// <summary>Replace the stage folders and reports of an earlier demo in <see cref="OutputDir"/>.</summary>
    public bool OverwriteOutputDir { get; init; }
    /// <summary>Sizes and steps; null picks <see cref="DemoSettings.Full"/> or <see cref="DemoSettings.QuickRun"/>.</summary>
    public DemoSettings? Settings { get; init; }

    public DemoSettings ResolvedSettings => Settings ?? (Quick ? DemoSettings.QuickRun : DemoSettings.Full);
}

/// <summary>Model size and the steps, batch sizes and learning rates of every stage.</summary>
internal sealed record DemoSettings
{
    public int VocabSize { get; init; } = 1024;
    public int LayerCount { get; init; } = 4;
    public int HeadCount { get; init; } = 6;
    public int EmbeddingSize { get; init; } = 192;
    public int ContextLength { get; init; } = 128;

    public double SftEpochs { get; init; } = 6;
    public int SftBatchSize { get; init; } = 32;
    public float SftLearningRate { get; init; } = 2e-3f;

    public int RewardSteps { get; init; } = 150;
    public int RewardBatchSize { get; init; } = 16;
    public float RewardLearningRate { get; init; } = 1e-4f;

    public int PpoSteps { get; init; } = 150;
    public int PpoBatchSize { get; init; } = 16;
    public float PpoLearningRate { get; init; } = 3e-5f;
    public int PpoMaxNewTokens { get; init; } = 32;
    public double PpoInitKlCoef { get; init; } = 0.1;

    public int DpoSteps { get; init; } = 100;
    public int DpoBatchSize { get; init; } = 16;
    public float DpoLearningRate { get; init; } = 1e-4f;
    public float DpoBeta { get; init; } = 0.3f;
    /// <summary>TRL's rpo_alpha: weight of the NLL of the chosen answers added to the DPO loss (keeps the answers fluent).</summary>
    public float? DpoRpoAlpha { get; init; } = 0.5f;

    // The GRPO stage: a character-level GPT-2 of its own, SFT'd on a sloppy teacher's sums, then GRPO with the
    // numeric-answer reward (β 0, so no reference model), accuracy measured greedily on the held-out sums.
    public int GrpoLayerCount { get; init; } = 2;
    public int GrpoHeadCount { get; init; } = 4;
    public int GrpoEmbeddingSize { get; init; } = 128;
    public double GrpoSftEpochs { get; init; } = 60;
    public int GrpoSftBatchSize { get; init; } = 128;
    public float GrpoSftLearningRate { get; init; } = 3e-3f;
    public int GrpoSteps { get; init; } = 80;
    /// <summary>Prompts per GRPO step; each is sampled <see cref="GrpoNumGenerations"/> times.</summary>
    public int GrpoPromptsPerStep { get; init; } = 32;
    public int GrpoNumGenerations { get; init; } = 8;
    public float GrpoLearningRate { get; init; } = 3e-4f;
    /// <summary>Held-out sums the accuracy is measured on (0: all of them).</summary>
    public int GrpoEvalProblems { get; init; }

    /// <summary>Held-out prompts of the comparison (0: all of them).</summary>
    public int ComparePrompts { get; init; }
    public int CompareMaxNewTokens { get; init; } = 40;
    public int LoggingSteps { get; init; } = 5;

    public static DemoSettings Full { get; } = new();

    public static DemoSettings QuickRun { get; } = new()
    {
        VocabSize = 512, LayerCount = 2, HeadCount = 4, EmbeddingSize = 128, ContextLength = 96,
        SftEpochs = 2, SftBatchSize = 32, SftLearningRate = 3e-3f,
        RewardSteps = 40, RewardBatchSize = 16, RewardLearningRate = 3e-4f,
        PpoSteps = 10, PpoBatchSize = 8, PpoMaxNewTokens = 16,
        DpoSteps = 20, DpoBatchSize = 8, DpoLearningRate = 3e-4f,
        ComparePrompts = 24, CompareMaxNewTokens = 24, LoggingSteps = 2,
        GrpoEmbeddingSize = 64, GrpoSftEpochs = 8, GrpoSteps = 6, GrpoPromptsPerStep = 8, GrpoEvalProblems = 100,
    };
}
