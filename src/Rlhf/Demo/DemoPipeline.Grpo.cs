// The demo's GRPO stage, on a verifiable task: sums "37+5=" (data/demo/arithmetic_*.jsonl). A character-level GPT-2
// of its own is SFT'd on a sloppy teacher's answers (it often forgets the carry), then trained with GRPO (Shao et al.
// 2024; TRL GRPOTrainer) against the numeric-answer reward: 1 when the completion's number is the sum. The held-out
// accuracy (greedy) is measured before and after GRPO.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Models.Gpt2;
using Rlhf.Text;
using Rlhf.Training;
using Rlhf.Training.Grpo;
using Rlhf.Training.Sft;

namespace Rlhf.Demo;

/// <summary>What the GRPO stage returns: both trainings' logs (the GRPO one starts with the step-0 evaluation) and the accuracies.</summary>
internal sealed record GrpoStageResult(
    IReadOnlyList<IReadOnlyDictionary<string, double>> SftHistory,
    IReadOnlyList<IReadOnlyDictionary<string, double>> GrpoHistory,
    double AccuracyBefore,
    double AccuracyAfter,
    double SftSeconds);

internal static partial class DemoPipeline
{
    /// <summary>Longest sum prompt ("99+9=") + answer + EOS fits easily; the completion may take up to <see cref="GrpoMaxCompletion"/> tokens.</summary>
    private const int GrpoContextLength = 16;
    private const int GrpoMaxCompletion = 6;

    /// <summary>Runs only the GRPO stage into <see cref="DemoOptions.OutputDir"/> (folders grpo_sft and grpo).</summary>
    internal static GrpoStageResult RunGrpoStage(DemoOptions options, IProgress<DemoProgress>? progress = null, CancellationToken cancellation = default)
    {
        string output = Path.GetFullPath(options.OutputDir);
        Directory.CreateDirectory(output);
        var run = new StageRunner(options, options.ResolvedSettings, DemoData.Load(options.DataDir), output, progress, cancellation);
        return run.TrainGrpo();
    }

    private sealed partial class StageRunner
    {
        public GrpoStageResult TrainGrpo()
        {
            // Character level: 256 byte tokens + EOS and no merges, so every digit is a token of its own (a BPE would
            // make most numbers single tokens, and the sum a lookup table over them).
            var tokenizer = BpeTrainer.Train(data.ArithmeticSft.Select(p => p.Prompt + p.Response), 257).WithModelMaxLength(GrpoContextLength);
            int eos = Eos(tokenizer);
            var config = new Gpt2Config
            {
                VocabSize = tokenizer.VocabSize, ContextLength = GrpoContextLength, EmbeddingSize = settings.GrpoEmbeddingSize,
                LayerCount = settings.GrpoLayerCount, HeadCount = settings.GrpoHeadCount, BosTokenId = eos, EosTokenId = eos,
            };
            string note = $"model: GPT-2 with n_layer {config.LayerCount}, n_head {config.HeadCount}, n_embd {config.EmbeddingSize}, "
                + $"n_positions {config.ContextLength}, a character-level vocabulary of {tokenizer.VocabSize}; prompts raw (no template)";
            var clock = Stopwatch.StartNew();
            using var model = Gpt2Model.CreateRandom(config, options.Seed + 4);

            // 1. SFT on the teacher's demonstrations (prompt as it is, the answer, EOS).
            var sftTrain = data.ArithmeticSft
                .Select(p => new SftExample(tokenizer.Encode(p.Prompt, allowSpecialTokens: false), Response(tokenizer, p.Response!))).ToArray();
            var sftHistory = new List<IReadOnlyDictionary<string, double>>();
            using (var sftTask = new SftTask(model, eos, dir => SaveExtras(tokenizer, config, dir, GrpoMaxCompletion)))
            {
                var arguments = Arguments("grpo_sft", settings.GrpoSftLearningRate, settings.GrpoSftBatchSize) with { NumTrainEpochs = settings.GrpoSftEpochs };
                var loop = new TrainingLoop<SftExample>(sftTask, arguments, sftTrain) { Progress = Relay("grpo_sft") };
                Start("grpo_sft", loop.TotalSteps);
                var result = loop.Run(cancellation);
                sftHistory.AddRange(result.LogHistory);
                SaveConfig("grpo_sft", arguments, [new("dataset", DataFile("arithmetic_sft.jsonl")), new("raw", true)],
                    note + ", initialised at random with seed + 4", "responses: the teacher's answers (the \"response\" column), which often forget the carry");
                Done("grpo_sft", loop.TotalSteps, result.LogHistory.LastOrDefault());
            }

            double sftSeconds = clock.Elapsed.TotalSeconds;

            // 2. GRPO with the numeric-answer reward against the "answer" column.
            // Its prompts are sums the SFT step never saw (on memorised ones the samples would hardly vary).
            var train = Problems(tokenizer, data.ArithmeticPrompts, "arithmetic_prompts.jsonl");
            var heldOut = Problems(tokenizer, settings.GrpoEvalProblems > 0 ? data.ArithmeticEval.Take(settings.GrpoEvalProblems).ToArray() : data.ArithmeticEval,
                "arithmetic_eval.jsonl");
            var grpo = new GrpoConfig
            {
                NumGenerations = settings.GrpoNumGenerations, PerDeviceTrainBatchSize = settings.GrpoNumGenerations * settings.GrpoPromptsPerStep,
                MaxCompletionLength = GrpoMaxCompletion,
            };
            var rewards = new RewardSet([new NumericAnswerReward("answer")]);
            rewards.CheckColumns(train.Concat(heldOut).Select(p => p.Row));
            using var task = new GrpoTask(model, null, tokenizer, rewards, grpo, eos, eos, options.Seed + 5, dir => SaveExtras(tokenizer, config, dir, GrpoMaxCompletion));
            var grpoArguments = Arguments("grpo", settings.GrpoLearningRate, grpo.PromptsPerGeneration) with
            {
                MaxSteps = settings.GrpoSteps, LrSchedulerType = "constant", WarmupRatio = 0, PerDeviceEvalBatchSize = 256,
                EvalSteps = Math.Max(1, settings.GrpoSteps / 8), LoggingSteps = Math.Max(1, settings.GrpoSteps / 16),
                DivergenceLossRatio = 0, // the surrogate loss starts near 0 (advantages average to 0): no ratio to watch
            };
            var grpoLoop = new TrainingLoop<GrpoExample>(task, grpoArguments, train, heldOut)
            {
                Progress = Relay("grpo"), ExtraState = task.State, RestoreExtraState = task.Restore,
            };
            Start("grpo", grpoLoop.TotalSteps);
            double before = task.Evaluate(heldOut, grpoArguments.PerDeviceEvalBatchSize)["reward"];
            var grpoResult = grpoLoop.Run(cancellation);
            var history = new List<IReadOnlyDictionary<string, double>> { new Dictionary<string, double> { ["step"] = 0, ["eval_reward"] = before } };
            history.AddRange(grpoResult.LogHistory);
            double after = history.Last(h => h.ContainsKey("eval_reward"))["eval_reward"];
            // rlhf grpo's per_device_train_batch_size counts completions (TRL's meaning); the loop above was handed prompts.
            SaveConfig("grpo", grpoArguments with { PerDeviceTrainBatchSize = grpo.PerDeviceTrainBatchSize },
                [new("model", Folder("grpo_sft")), new("dataset", DataFile("arithmetic_prompts.jsonl")), new("eval_dataset", DataFile("arithmetic_eval.jsonl")),
                    new("raw", true), new("reward_numeric", "answer"), new("num_generations", grpo.NumGenerations), new("beta", grpo.Beta),
                    new("loss_type", "dapo"), new("max_completion_length", grpo.MaxCompletionLength), new("temperature", grpo.Temperature)],
                string.Create(CultureInfo.InvariantCulture, $"held-out accuracy (greedy, {heldOut.Length} sums): {before:0.###} before, {after:0.###} after"));
            Done("grpo", grpoLoop.TotalSteps, new Dictionary<string, double> { ["accuracy_before"] = before, ["accuracy_after"] = after });
            return new GrpoStageResult(sftHistory, history, before, after, sftSeconds);
        }

        /// <summary>Prompts with their rows (the reward reads "answer"), numbered as the lines of <paramref name="file"/>.</summary>
        private GrpoExample[] Problems(BpeTokenizer tokenizer, IReadOnlyList<DemoProblem> problems, string file) =>
            problems.Select((p, i) => new GrpoExample(tokenizer.Encode(p.Prompt, allowSpecialTokens: false), p.Prompt,
                new DataRow(DataFile(file), i + 1, false, JsonSerializer.SerializeToElement(new Dictionary<string, object> { ["prompt"] = p.Prompt, ["answer"] = p.Answer }))))
                .ToArray();
    }
}
