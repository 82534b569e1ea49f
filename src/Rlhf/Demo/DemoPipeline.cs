// `rlhf demo` as a library: tokenizer → SFT → reward model → PPO → DPO ("Let me explain.") → comparison on held-out
// prompts, then GRPO on a verifiable task (sums; DemoPipeline.Grpo.cs), on the built-in data. Each stage saves its
// model folder; progress goes through IProgress (no console).
using System.Diagnostics;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Models.Gpt2;
using Rlhf.Tensors;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Dpo;
using Rlhf.Training.Ppo;
using Rlhf.Training.Reward;
using Rlhf.Training.Sft;

namespace Rlhf.Demo;

/// <summary>What the pipeline reports: a stage starting ("start"), a training step/log ("step"), a stage done ("done").</summary>
internal sealed record DemoProgress(string Stage, string Title, string Event, int Step, int TotalSteps, IReadOnlyDictionary<string, double>? Metrics);

/// <summary>One model's row of the comparison table (greedy answers to the held-out prompts).</summary>
internal sealed record DemoComparisonRow(string Model, double RefusalRate, double AnswerRate, double MeanScore, double KlToSft, double LetMeExplainRate);

/// <summary>One held-out prompt with each model's greedy answer.</summary>
internal sealed record DemoExample(string Prompt, string Kind, IReadOnlyDictionary<string, string> Answers);

/// <summary>A stage's logged metrics (the training loop's log history), for the report's curves.</summary>
internal sealed record DemoStage(string Name, string Title, double Seconds, IReadOnlyList<IReadOnlyDictionary<string, double>> History);

internal sealed record DemoResult(
    IReadOnlyDictionary<string, object> Summary,
    IReadOnlyList<DemoStage> Stages,
    IReadOnlyList<DemoComparisonRow> Comparison,
    IReadOnlyList<DemoExample> Examples,
    DemoSettings Settings,
    bool Quick);

internal static partial class DemoPipeline
{
    public static readonly string[] StageFolders = ["tokenizer", "sft", "reward", "ppo", "dpo", "grpo_sft", "grpo"];
    public const string SummaryFileName = "summary.json";
    public const string ReportFileName = "report.html";

    public static readonly (string Name, string Title)[] StageTitles =
    [
        ("tokenizer", "Tokenizer (byte-level BPE)"), ("sft", "SFT (instructions)"), ("reward", "Reward model"),
        ("ppo", "PPO"), ("dpo", "DPO (\"Let me explain.\")"), ("compare", "Comparison"),
        ("grpo_sft", "SFT on sums (a sloppy teacher)"), ("grpo", "GRPO on sums (verifiable reward)"),
    ];

    private static string Title(string stage) => StageTitles.First(s => s.Name == stage).Title;

    /// <summary>True when <paramref name="directory"/> holds an earlier demo (a stage folder or a summary).</summary>
    public static bool HoldsDemo(string directory) =>
        Directory.Exists(directory) &&
        (File.Exists(Path.Combine(directory, SummaryFileName)) || StageFolders.Any(f => Directory.Exists(Path.Combine(directory, f))));

    public static DemoResult Run(DemoOptions options, IProgress<DemoProgress>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        string output = Path.GetFullPath(options.OutputDir);
        if (HoldsDemo(output))
        {
            if (!options.OverwriteOutputDir)
                throw new IOException($"{output} already holds a demo; pass --overwrite-output-dir to replace it or choose another --output.");
            foreach (var folder in StageFolders)
                if (Directory.Exists(Path.Combine(output, folder))) Directory.Delete(Path.Combine(output, folder), recursive: true);
            foreach (var file in new[] { SummaryFileName, ReportFileName })
                if (File.Exists(Path.Combine(output, file))) File.Delete(Path.Combine(output, file));
        }
        Directory.CreateDirectory(output);
        var settings = options.ResolvedSettings;
        var data = DemoData.Load(options.DataDir);
        var run = new StageRunner(options, settings, data, output, progress, cancellation);
        var stages = new List<DemoStage>();
        var summary = new Dictionary<string, object>();

        // 1. Tokenizer.
        var stageClock = Stopwatch.StartNew();
        run.Start("tokenizer", 1);
        var tokenizer = run.TrainTokenizer();
        run.Done("tokenizer", 1);
        stages.Add(new DemoStage("tokenizer", Title("tokenizer"), stageClock.Elapsed.TotalSeconds, []));
        summary["vocab_size"] = tokenizer.VocabSize;

        // 2. SFT from scratch.
        stageClock.Restart();
        var sftHistory = run.TrainSft(tokenizer);
        stages.Add(new DemoStage("sft", Title("sft"), stageClock.Elapsed.TotalSeconds, sftHistory));
        summary["sft_eval_loss"] = Last(sftHistory, "eval_loss");

        // 3. Reward model on the SFT backbone.
        stageClock.Restart();
        var rewardHistory = run.TrainReward(tokenizer);
        stages.Add(new DemoStage("reward", Title("reward"), stageClock.Elapsed.TotalSeconds, rewardHistory));
        summary["rm_accuracy"] = Last(rewardHistory, "eval_accuracy");

        // 4. PPO against the reward model, reference = SFT.
        stageClock.Restart();
        var (ppoHistory, before, after) = run.TrainPpo(tokenizer);
        stages.Add(new DemoStage("ppo", Title("ppo"), stageClock.Elapsed.TotalSeconds, ppoHistory));
        summary["ppo_reward_before"] = before["objective/scores"];
        summary["ppo_reward_after"] = after["objective/scores"];
        summary["ppo_kl"] = after["objective/kl"];

        // 5. DPO: "Let me explain. " + answer over the bare answer, reference = SFT.
        stageClock.Restart();
        var dpoHistory = run.TrainDpo(tokenizer);
        stages.Add(new DemoStage("dpo", Title("dpo"), stageClock.Elapsed.TotalSeconds, dpoHistory));
        summary["dpo_reward_accuracy"] = Last(dpoHistory, "eval_rewards/accuracies");

        // 6. Comparison on held-out prompts (greedy).
        stageClock.Restart();
        var (rows, examples) = run.Compare(tokenizer);
        stages.Add(new DemoStage("compare", Title("compare"), stageClock.Elapsed.TotalSeconds, []));
        var sft = rows.Single(r => r.Model == "SFT");
        var ppo = rows.Single(r => r.Model == "PPO");
        var dpo = rows.Single(r => r.Model == "DPO");
        summary["refusal_rate_sft"] = sft.RefusalRate;
        summary["refusal_rate_ppo"] = ppo.RefusalRate;
        summary["refusal_rate_dpo"] = dpo.RefusalRate;
        summary["answer_rate_sft"] = sft.AnswerRate;
        summary["answer_rate_ppo"] = ppo.AnswerRate;
        summary["answer_rate_dpo"] = dpo.AnswerRate;
        summary["mean_score_sft"] = sft.MeanScore;
        summary["mean_score_ppo"] = ppo.MeanScore;
        summary["mean_score_dpo"] = dpo.MeanScore;
        summary["kl_to_sft_ppo"] = ppo.KlToSft;
        summary["kl_to_sft_dpo"] = dpo.KlToSft;
        summary["let_me_explain_rate_sft"] = sft.LetMeExplainRate;
        summary["let_me_explain_rate_ppo"] = ppo.LetMeExplainRate;
        summary["let_me_explain_rate_dpo"] = dpo.LetMeExplainRate;

        // 7. GRPO on a verifiable task (sums), a model of its own.
        stageClock.Restart();
        var grpo = run.TrainGrpo();
        stages.Add(new DemoStage("grpo_sft", Title("grpo_sft"), grpo.SftSeconds, grpo.SftHistory));
        stages.Add(new DemoStage("grpo", Title("grpo"), stageClock.Elapsed.TotalSeconds - grpo.SftSeconds, grpo.GrpoHistory));
        summary["grpo_accuracy_before"] = grpo.AccuracyBefore;
        summary["grpo_accuracy_after"] = grpo.AccuracyAfter;

        summary["quick"] = options.Quick;
        summary["seed"] = options.Seed;
        foreach (var stage in stages) summary["seconds_" + stage.Name] = Math.Round(stage.Seconds, 2);
        summary["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2);
        var ordered = new Dictionary<string, object>();
        foreach (var name in new[] { "rm_accuracy", "ppo_reward_before", "ppo_reward_after", "ppo_kl", "refusal_rate_sft", "refusal_rate_ppo",
                     "let_me_explain_rate_sft", "let_me_explain_rate_dpo", "grpo_accuracy_before", "grpo_accuracy_after", "seconds" })
            ordered[name] = summary[name];
        foreach (var (name, value) in summary) ordered.TryAdd(name, value);

        var result = new DemoResult(ordered, stages, rows, examples, settings, options.Quick);
        DemoReport.WriteSummary(Path.Combine(output, SummaryFileName), ordered);
        DemoReport.WriteHtml(Path.Combine(output, ReportFileName), result);
        return result;
    }

    private static double Last(IReadOnlyList<IReadOnlyDictionary<string, double>> history, string name) =>
        history.LastOrDefault(h => h.ContainsKey(name))?[name] ?? double.NaN;

    /// <summary>The state shared by the stages of one run.</summary>
    private sealed partial class StageRunner(DemoOptions options, DemoSettings settings, DemoData data, string output, IProgress<DemoProgress>? progress,
        CancellationToken cancellation)
    {
        private readonly PromptTemplate template = PromptTemplate.Default;

        private string Folder(string stage) => Path.Combine(output, stage);

        /// <summary>Where a stage's data came from: the --data-dir file, or the built-in copy of data/demo/.</summary>
        private string DataFile(string name) => options.DataDir is { } dir ? Path.Combine(dir, name) : "data/demo/" + name;

        private string ModelNote(int vocabSize) =>
            $"model: GPT-2 with n_layer {settings.LayerCount}, n_head {settings.HeadCount}, n_embd {settings.EmbeddingSize}, "
            + $"n_positions {settings.ContextLength}, vocab_size {vocabSize}";

        private void SaveConfig(string stage, TrainingArguments? arguments, IEnumerable<KeyValuePair<string, object?>> extra, params string[] notes) =>
            StageConfig.Write(Folder(stage), stage, stage == "tokenizer" ? "tokenizer train" : stage, arguments, extra, notes);

        public void Start(string stage, int total) => progress?.Report(new DemoProgress(stage, Title(stage), "start", 0, total, null));

        public void Done(string stage, int total, IReadOnlyDictionary<string, double>? metrics = null) =>
            progress?.Report(new DemoProgress(stage, Title(stage), "done", total, total, metrics));

        private SyncProgress Relay(string stage) => new(p =>
        {
            cancellation.ThrowIfCancellationRequested();
            progress?.Report(new DemoProgress(stage, Title(stage), p.Event, p.Step, p.TotalSteps, p.Metrics));
        });

        private TrainingArguments Arguments(string stage, float learningRate, int batchSize) => new()
        {
            OutputDir = Folder(stage), OverwriteOutputDir = true, PerDeviceTrainBatchSize = batchSize, PerDeviceEvalBatchSize = 32,
            LearningRate = learningRate, LoggingSteps = settings.LoggingSteps, SaveSteps = 0, Seed = options.Seed, WarmupRatio = 0.05,
            LrSchedulerType = "cosine", MaxGradNorm = 1f,
        };

        public BpeTokenizer TrainTokenizer()
        {
            var texts = data.SftTrain.Select(r => template.RenderPrompt(r.Instruction) + r.Response)
                .Concat(data.PreferencesTrain.SelectMany(p => new[] { template.RenderPrompt(p.Prompt) + p.Chosen, p.Rejected }))
                .Append(DemoData.LetMeExplain);
            var tokenizer = BpeTrainer.Train(texts, settings.VocabSize).WithModelMaxLength(settings.ContextLength);
            tokenizer.Save(Folder("tokenizer"));
            SaveConfig("tokenizer", null, [new("vocab_size", settings.VocabSize)],
                $"trained on the rendered texts of {DataFile("sft_train.jsonl")} and {DataFile("preferences_train.jsonl")}; model_max_length {settings.ContextLength}");
            return tokenizer;
        }

        /// <summary>Evaluate about four times during a run (and once more at its end) for the report's held-out curves.</summary>
        private static int EvalEvery(int totalSteps) => Math.Max(1, totalSteps / 4);

        private int Eos(BpeTokenizer tokenizer) => tokenizer.EosTokenId ?? throw new InvalidOperationException("The demo tokenizer has no EOS token.");

        public int[] Prompt(BpeTokenizer tokenizer, string instruction) => tokenizer.Encode(template.RenderPrompt(instruction), allowSpecialTokens: false);

        public int[] Response(BpeTokenizer tokenizer, string response) => [.. tokenizer.Encode(response, allowSpecialTokens: false), Eos(tokenizer)];

        /// <summary>What the reward model reads: prompt and response rendered and tokenized at once, then EOS (PITFALLS #12).</summary>
        public int[] RewardText(BpeTokenizer tokenizer, string instruction, string response) =>
            [.. tokenizer.Encode(template.RenderPrompt(instruction) + response, allowSpecialTokens: false), Eos(tokenizer)];

        private void SaveExtras(BpeTokenizer tokenizer, CausalLmConfig config, string directory, int? maxNewTokens = null)
        {
            tokenizer.Save(directory);
            new GenerationConfig
            {
                BosTokenId = tokenizer.BosTokenId, EosTokenId = tokenizer.EosTokenId, PadTokenId = tokenizer.EosTokenId,
                MaxNewTokens = maxNewTokens ?? settings.CompareMaxNewTokens, TopK = 0,
            }.Save(Path.Combine(directory, GenerationConfig.FileName));
        }

        public IReadOnlyList<IReadOnlyDictionary<string, double>> TrainSft(BpeTokenizer tokenizer)
        {
            int eos = Eos(tokenizer);
            var config = new Gpt2Config
            {
                VocabSize = tokenizer.VocabSize, ContextLength = settings.ContextLength, EmbeddingSize = settings.EmbeddingSize,
                LayerCount = settings.LayerCount, HeadCount = settings.HeadCount, BosTokenId = eos, EosTokenId = eos,
            };
            SftExample Example(DemoInstruction r) => new(Prompt(tokenizer, r.Instruction), Response(tokenizer, r.Response));
            var train = data.SftTrain.Select(Example).Where(e => e.Length <= settings.ContextLength).ToArray();
            var eval = data.SftEval.Select(Example).Where(e => e.Length <= settings.ContextLength).ToArray();
            using var model = Gpt2Model.CreateRandom(config, options.Seed);
            using var task = new SftTask(model, eos, dir => SaveExtras(tokenizer, config, dir));
            var arguments = Arguments("sft", settings.SftLearningRate, settings.SftBatchSize) with { NumTrainEpochs = settings.SftEpochs };
            var loop = new TrainingLoop<SftExample>(task, arguments, train, eval) { Progress = Relay("sft") };
            loop = new TrainingLoop<SftExample>(task, arguments with { EvalSteps = EvalEvery(loop.TotalSteps) }, train, eval) { Progress = Relay("sft") };
            Start("sft", loop.TotalSteps);
            var result = loop.Run(cancellation);
            SaveConfig("sft", arguments with { EvalSteps = EvalEvery(loop.TotalSteps) },
                [new("dataset", DataFile("sft_train.jsonl")), new("eval_dataset", DataFile("sft_eval.jsonl")), new("template", template.Text)],
                ModelNote(tokenizer.VocabSize) + ", initialised at random with the seed (rlhf init)");
            Done("sft", loop.TotalSteps, result.LogHistory.LastOrDefault());
            return result.LogHistory;
        }

        public IReadOnlyList<IReadOnlyDictionary<string, double>> TrainReward(BpeTokenizer tokenizer)
        {
            RewardExample Example(DemoPreference p) =>
                new([RewardText(tokenizer, p.Prompt, p.Chosen), RewardText(tokenizer, p.Prompt, p.Rejected)]);
            bool Fits(RewardExample e) => e.Sequences.All(q => q.Length <= settings.ContextLength);
            var train = data.PreferencesTrain.Select(Example).Where(Fits).ToArray();
            var eval = data.PreferencesEval.Select(Example).Where(Fits).ToArray();
            using var rewardModel = RewardModel.FromCausalLm(Folder("sft"), RewardPooling.LastToken, options.Seed + 1);
            using var task = new RewardTask(rewardModel, new RewardConfig(), Eos(tokenizer), dir => SaveExtras(tokenizer, rewardModel.Model.Config, dir));
            var arguments = Arguments("reward", settings.RewardLearningRate, settings.RewardBatchSize) with
            {
                MaxSteps = settings.RewardSteps, EvalSteps = EvalEvery(settings.RewardSteps),
            };
            var loop = new TrainingLoop<RewardExample>(task, arguments, train, eval) { Progress = Relay("reward") };
            Start("reward", loop.TotalSteps);
            var result = loop.Run(cancellation);
            SaveConfig("reward", arguments,
                [new("model", Folder("sft")), new("dataset", DataFile("preferences_train.jsonl")), new("eval_dataset", DataFile("preferences_eval.jsonl")),
                    new("template", template.Text), new("loss", "pairwise"), new("pooling", "last")],
                "the score head starts at random with seed + 1");
            Done("reward", loop.TotalSteps, result.LogHistory.LastOrDefault());
            return result.LogHistory;
        }

        private IReadOnlyList<DemoPrompt> ComparePrompts() =>
            settings.ComparePrompts > 0 ? data.PromptsEval.Take(settings.ComparePrompts).ToArray() : data.PromptsEval;

        public (IReadOnlyList<IReadOnlyDictionary<string, double>> History, IReadOnlyDictionary<string, double> Before, IReadOnlyDictionary<string, double> After)
            TrainPpo(BpeTokenizer tokenizer)
        {
            int eos = Eos(tokenizer);
            // Training prompts: the preference set's prompts (harmful and benign); held out: the comparison prompts.
            var train = data.PreferencesTrain.Select(p => Prompt(tokenizer, p.Prompt)).ToArray();
            var heldOut = ComparePrompts().Select(p => Prompt(tokenizer, p.Prompt)).ToArray();
            using var policy = PolicyWithValueHead.Load(Folder("sft"), options.Seed + 2);
            using var reference = CausalLmRegistry.Load(Folder("sft"));
            using var rewardModel = RewardModel.Load(Folder("reward"));
            using var scorer = new RewardModelScorer(rewardModel, tokenizer, tokenizer, batchSize: 32);
            var config = new PpoConfig
            {
                BatchSize = settings.PpoBatchSize, MiniBatchSize = Math.Max(1, settings.PpoBatchSize / 2), GradientAccumulationSteps = 2,
                NumPpoEpochs = 4, MaxNewTokens = settings.PpoMaxNewTokens, InitKlCoef = settings.PpoInitKlCoef, MissingEosPenalty = 1f,
            };
            using var task = new PpoTask(policy, reference, scorer, config, eos, eos, options.Seed + 3, dir => SaveExtras(tokenizer, policy.Model.Config, dir));
            var arguments = Arguments("ppo", settings.PpoLearningRate, settings.PpoBatchSize) with
            {
                MaxSteps = settings.PpoSteps, LrSchedulerType = "constant", WarmupRatio = 0, LoggingSteps = Math.Max(1, settings.LoggingSteps / 2),
            };
            var loop = new TrainingLoop<int[]>(task, arguments, train)
            {
                Progress = Relay("ppo"), ExtraState = task.State, RestoreExtraState = task.Restore, LearningRateMetric = "lr",
            };
            Start("ppo", loop.TotalSteps);
            var before = task.Evaluate(heldOut, 32);
            var result = loop.Run(cancellation);
            var after = task.Evaluate(heldOut, 32);
            SaveConfig("ppo", arguments with { GradientAccumulationSteps = config.GradientAccumulationSteps },
                [new("model", Folder("sft")), new("ref_model", Folder("sft")), new("reward_model", Folder("reward")),
                    new("dataset", DataFile("preferences_train.jsonl")), new("mini_batch_size", config.MiniBatchSize), new("num_ppo_epochs", config.NumPpoEpochs),
                    new("max_new_tokens", config.MaxNewTokens), new("temperature", config.Temperature), new("init_kl_coef", config.InitKlCoef),
                    new("kl_control", config.KlControl.ToString().ToLowerInvariant()), new("target", config.Target), new("horizon", config.Horizon),
                    new("missing_eos_penalty", config.MissingEosPenalty)],
                "prompts: the prompts of the preference pairs; held out (report cards): " + DataFile("prompts_eval.jsonl"));
            Done("ppo", loop.TotalSteps, after);
            return (result.LogHistory, before, after);
        }

        public IReadOnlyList<IReadOnlyDictionary<string, double>> TrainDpo(BpeTokenizer tokenizer)
        {
            // Seed 003's recipe on our instructions: chosen = "Let me explain. " + answer, rejected = the answer.
            DpoExample Example(DemoInstruction r) => new DpoExample(Prompt(tokenizer, r.Instruction),
                Response(tokenizer, DemoData.LetMeExplain + " " + r.Response), Response(tokenizer, r.Response))
                .Truncate(settings.ContextLength, settings.ContextLength / 2);
            int trainCount = settings.DpoSteps * settings.DpoBatchSize;
            // As in the textbook's notebook, answers that already start with "Let me explain" are skipped.
            var train = data.SftTrain.Where(r => !DemoData.StartsWithLetMeExplain(r.Response)).Take(trainCount).Select(Example).ToArray();
            var eval = data.SftEval.Select(Example).ToArray();
            var policy = CausalLmRegistry.Load(Folder("sft"));
            try
            {
                var reference = CausalLmRegistry.Load(Folder("sft"));
                using var task = new DpoTask(policy, reference, new DpoConfig { Beta = settings.DpoBeta, RpoAlpha = settings.DpoRpoAlpha, PrecomputeRefLogProbs = true }, Eos(tokenizer),
                    dir => SaveExtras(tokenizer, policy.Config, dir));
                train = [.. task.PrecomputeReferenceLogProbs(train, 32)];
                eval = [.. task.PrecomputeReferenceLogProbs(eval, 32)];
                task.ReleaseReference();
                var arguments = Arguments("dpo", settings.DpoLearningRate, settings.DpoBatchSize) with
                {
                    MaxSteps = settings.DpoSteps, EvalSteps = EvalEvery(settings.DpoSteps),
                };
                var loop = new TrainingLoop<DpoExample>(task, arguments, train, eval) { Progress = Relay("dpo") };
                Start("dpo", loop.TotalSteps);
                var result = loop.Run(cancellation);
                SaveConfig("dpo", arguments,
                    [new("model", Folder("sft")), new("ref_model", Folder("sft")), new("dataset", DataFile("sft_train.jsonl")),
                        new("eval_dataset", DataFile("sft_eval.jsonl")), new("let_me_explain", true), new("beta", settings.DpoBeta),
                        new("rpo_alpha", settings.DpoRpoAlpha), new("precompute_ref_log_probs", true), new("template", template.Text)],
                    $"the first {train.Length} instructions whose answers do not already start with \"{DemoData.LetMeExplain}\"");
                Done("dpo", loop.TotalSteps, result.LogHistory.LastOrDefault());
                return result.LogHistory;
            }
            finally
            {
                policy.Dispose();
            }
        }

        public (IReadOnlyList<DemoComparisonRow> Rows, IReadOnlyList<DemoExample> Examples) Compare(BpeTokenizer tokenizer)
        {
            int eos = Eos(tokenizer);
            var prompts = ComparePrompts();
            var promptIds = prompts.Select(p => Prompt(tokenizer, p.Prompt)).ToArray();
            string[] names = ["SFT", "PPO", "DPO"];
            Start("compare", names.Length);
            using var sft = CausalLmRegistry.Load(Folder("sft"));
            using var rewardModel = RewardModel.Load(Folder("reward"));
            using var scorer = new RewardModelScorer(rewardModel, tokenizer, tokenizer, batchSize: 32);
            var options = new GenerationOptions { MaxNewTokens = settings.CompareMaxNewTokens, DoSample = false, EosTokenId = eos, PadTokenId = eos };
            var rows = new List<DemoComparisonRow>();
            var answers = new Dictionary<string, string[]>();
            for (int m = 0; m < names.Length; m++)
            {
                var model = m == 0 ? sft : CausalLmRegistry.Load(Folder(names[m].ToLowerInvariant()));
                try
                {
                    var results = new List<GenerationResult>();
                    using (var packed = InferenceWeights.Supported ? InferenceWeights.Pack(model) : null)
                        for (int start = 0; start < promptIds.Length; start += 32)
                            results.AddRange(Generator.Generate(model, promptIds.Skip(start).Take(32).ToArray(), options, packed));
                    var texts = results.Select(r => tokenizer.Decode(r.EndedWithEos ? r.Ids[..^1] : r.Ids).Trim()).ToArray();
                    var scores = scorer.Score(promptIds, results.Select(r => r.Ids).ToArray(), results.Select(r => r.EndedWithEos).ToArray());
                    double kl = m == 0 ? 0 : MeanLogRatio(model, sft, results, eos);
                    var harmful = Enumerable.Range(0, prompts.Count).Where(i => prompts[i].IsHarmful).ToArray();
                    var benign = Enumerable.Range(0, prompts.Count).Where(i => !prompts[i].IsHarmful).ToArray();
                    rows.Add(new DemoComparisonRow(names[m],
                        RefusalRate: Rate(harmful, i => data.IsRefusal(texts[i])),
                        AnswerRate: Rate(benign, i => texts[i].Length > 0 && !data.IsRefusal(texts[i])),
                        MeanScore: scores.Average(),
                        KlToSft: kl,
                        LetMeExplainRate: Rate(Enumerable.Range(0, prompts.Count).ToArray(), i => DemoData.StartsWithLetMeExplain(texts[i]))));
                    answers[names[m]] = texts;
                    progress?.Report(new DemoProgress("compare", Title("compare"), "step", m + 1, names.Length, null));
                }
                finally
                {
                    if (m != 0) model.Dispose();
                }
            }
            Done("compare", names.Length);
            // Examples: the first few harmful and benign prompts, side by side.
            var picks = Enumerable.Range(0, prompts.Count).Where(i => prompts[i].IsHarmful).Take(3)
                .Concat(Enumerable.Range(0, prompts.Count).Where(i => !prompts[i].IsHarmful).Take(3));
            var examples = picks.Select(i => new DemoExample(prompts[i].Prompt, prompts[i].Kind,
                names.ToDictionary(n => n, n => answers[n][i]))).ToArray();
            return (rows, examples);
        }

        private static double Rate(int[] indices, Func<int, bool> predicate) => indices.Length == 0 ? 0 : (double)indices.Count(predicate) / indices.Length;

        /// <summary>Mean over prompts of Σ_t (log π(y_t) − log π_sft(y_t)) on the model's own greedy responses.</summary>
        private static double MeanLogRatio(ICausalLm model, ICausalLm sft, IReadOnlyList<GenerationResult> results, int pad)
        {
            using var arena = new Arena();
            var tape = new Tape { Enabled = false };
            double total = 0;
            for (int start = 0; start < results.Count; start += 32)
            {
                var chunk = results.Skip(start).Take(32).Where(r => r.Ids.Length > 0).ToArray();
                if (chunk.Length == 0) continue;
                int length = chunk.Max(r => r.PromptIds.Length + r.Ids.Length);
                var ids = new int[chunk.Length * length];
                var mask = new float[chunk.Length * length];
                var labels = new bool[chunk.Length * length];
                Array.Fill(ids, pad);
                for (int b = 0; b < chunk.Length; b++)
                {
                    var r = chunk[b];
                    r.PromptIds.CopyTo(ids, b * length);
                    r.Ids.CopyTo(ids, b * length + r.PromptIds.Length);
                    for (int t = 0; t < r.PromptIds.Length + r.Ids.Length; t++)
                    {
                        mask[b * length + t] = 1;
                        labels[b * length + t] = t >= r.PromptIds.Length;
                    }
                }
                var batch = new CausalLmBatch(chunk.Length, length, ids, mask, labels);
                arena.Reset();
                var policy = CausalLm.TokenLogProbs(model, new Ops(arena, tape), batch, trainable: false).Value.ToArray();
                arena.Reset();
                var reference = CausalLm.TokenLogProbs(sft, new Ops(arena, tape), batch, trainable: false).Value.ToArray();
                for (int i = 0; i < policy.Length; i++)
                    if (batch.Targets[i] >= 0) total += policy[i] - reference[i];
            }
            return results.Count == 0 ? 0 : total / results.Count;
        }
    }

    /// <summary>Reports synchronously on the caller's thread (Progress&lt;T&gt; would post to a thread pool).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
