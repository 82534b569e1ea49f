// The one training loop every trainer runs on: epochs or max steps, shuffling, gradient accumulation, clipping,
// AdamW with a warmup schedule, logging, evaluation, atomic checkpoints with resume, and clean interruption.
using System.Diagnostics;
using Rlhf.Tensors;

namespace Rlhf.Training;

/// <summary>What the loop reports after each optimizer step (and at log/eval/save events).</summary>
/// <param name="Step">Optimizer steps done so far.</param>
/// <param name="TotalSteps">Optimizer steps the run will take.</param>
/// <param name="Epoch">Epochs done so far (fractional).</param>
/// <param name="Event">"step" (metrics of this step), "log" (averaged over the logging window, as written to
/// metrics.jsonl), "eval" (eval_* metrics) or "save" (a checkpoint was written).</param>
/// <param name="Metrics">The metrics, with TRL's names (loss, rewards/chosen, grad_norm, learning_rate …).</param>
/// <param name="TokensPerSecond">Training throughput since the start (tokens/s).</param>
/// <param name="Elapsed">Time since the run started.</param>
/// <param name="Remaining">Estimated time to the end; null when unknown.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, double Epoch, string Event,
    IReadOnlyDictionary<string, double> Metrics, double TokensPerSecond, TimeSpan Elapsed, TimeSpan? Remaining);

/// <summary>How a run ended.</summary>
/// <param name="GlobalStep">Optimizer steps done.</param>
/// <param name="Interrupted">True when cancelled before the end (a checkpoint was saved to resume from).</param>
/// <param name="LastCheckpoint">The newest checkpoint folder; null when none was saved.</param>
/// <param name="SkippedSteps">Steps skipped because their loss or gradients were not finite.</param>
/// <param name="LogHistory">Every logged entry ("log" and "eval"), as in metrics.jsonl.</param>
public sealed record TrainingResult(int GlobalStep, bool Interrupted, string? LastCheckpoint, int SkippedSteps,
    IReadOnlyList<IReadOnlyDictionary<string, double>> LogHistory);

internal sealed class TrainingLoop<TExample>
{
    public const string MetricsFileName = "metrics.jsonl";

    private readonly ITrainingTask<TExample> task;
    private readonly TrainingArguments arguments;
    private readonly IReadOnlyList<TExample> trainSet;
    private readonly IReadOnlyList<TExample>? evalSet;

    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Extra entries saved in every checkpoint's state (e.g. PPO's KL coefficient), read back on resume.</summary>
    public Func<IReadOnlyDictionary<string, double>>? ExtraState { get; init; }
    public Action<IReadOnlyDictionary<string, double>>? RestoreExtraState { get; init; }

    /// <summary>Name of the learning rate in the logs ("learning_rate" as transformers; PPO uses TRL's "lr").</summary>
    public string LearningRateMetric { get; init; } = "learning_rate";

    /// <summary>Metrics logged at their latest value instead of averaged over the logging window (counters, coefficients).</summary>
    public IReadOnlySet<string> LatestValueMetrics { get; init; } = new HashSet<string> { "episode", "kl_coef" };

    public TrainingLoop(ITrainingTask<TExample> task, TrainingArguments arguments, IReadOnlyList<TExample> trainSet, IReadOnlyList<TExample>? evalSet = null)
    {
        arguments.Validate();
        if (trainSet.Count == 0) throw new ArgumentException("The training set is empty.");
        this.task = task;
        this.arguments = arguments;
        this.trainSet = trainSet;
        this.evalSet = evalSet;
    }

    public int MicroBatchesPerEpoch => (trainSet.Count + arguments.PerDeviceTrainBatchSize - 1) / arguments.PerDeviceTrainBatchSize;
    public int StepsPerEpoch => (MicroBatchesPerEpoch + arguments.GradientAccumulationSteps - 1) / arguments.GradientAccumulationSteps;
    public int TotalSteps => arguments.MaxSteps > 0 ? arguments.MaxSteps : Math.Max(1, (int)Math.Ceiling(arguments.NumTrainEpochs * StepsPerEpoch));

    public TrainingResult Run(CancellationToken cancellation = default)
    {
        string output = arguments.OutputDir;
        var checkpoints = new CheckpointStore(output, arguments.SaveTotalLimit);
        checkpoints.RemoveLeftovers();
        string? resumeFrom = checkpoints.Resolve(arguments.ResumeFromCheckpoint);
        if (resumeFrom is null && !arguments.OverwriteOutputDir && CheckpointStore.HoldsModel(output))
            throw new IOException($"{output} already holds a trained model; pass --overwrite-output-dir to replace it or --resume-from-checkpoint to continue.");
        Directory.CreateDirectory(output);
        var divergence = new DivergenceMonitor(arguments.MaxNonFiniteSteps, arguments.DivergenceLossRatio);

        int totalSteps = TotalSteps;
        var schedule = new LearningRateSchedule(arguments.LearningRate, arguments.ResolveWarmup(totalSteps), totalSteps,
            LearningRateSchedule.ParseKind(arguments.LrSchedulerType));
        using var optimizer = new AdamW(task.Parameters, arguments.AdamW);
        var rng = new Rng(arguments.Seed);
        var state = new TrainerState();
        if (resumeFrom is not null)
        {
            state = checkpoints.Load(resumeFrom, task, optimizer);
            rng.SetState(state.EpochRngState);
            if (state.Extra is not null) RestoreExtraState?.Invoke(state.Extra);
        }
        divergence.Restore(state);
        task.Parameters.ZeroGradients();

        using var metricsLog = new MetricsLog(Path.Combine(output, MetricsFileName), resumeFrom is null ? null : state.GlobalStep);
        var history = new List<IReadOnlyDictionary<string, double>>();
        var window = new MetricWindow(LearningRateMetric, LatestValueMetrics);
        var clock = Stopwatch.StartNew();
        double tokensSinceStart = 0;
        string? lastCheckpoint = resumeFrom;
        int skipped = state.SkippedSteps;

        while (state.GlobalStep < totalSteps)
        {
            // Each epoch's order comes from the RNG state at its start, so a resumed run replays it exactly.
            if (state.StepInEpoch == 0) state.EpochRngState = rng.GetState();
            else rng.SetState(state.EpochRngState);
            var order = Enumerable.Range(0, trainSet.Count).ToArray();
            rng.Shuffle(order.AsSpan());
            var groups = Group(order);
            for (int g = state.StepInEpoch; g < groups.Count && state.GlobalStep < totalSteps; g++)
            {
                float learningRate = schedule.At(state.GlobalStep);
                IReadOnlyDictionary<string, double> metrics;
                double norm;
                bool finite;
                if (task is ISelfSteppingTask<TExample> selfStepping)
                {
                    // The task applies its own updates (each clipped; a non-finite one is skipped and counted).
                    double normSum = 0;
                    int updates = 0, skippedBefore = skipped;
                    metrics = selfStepping.TrainStep(groups[g], () =>
                    {
                        double n = ClipStepAndZero(optimizer, learningRate, ref skipped);
                        normSum += double.IsFinite(n) ? n : 0;
                        updates++;
                        return n;
                    });
                    norm = updates == 0 ? 0 : normSum / updates;
                    finite = skipped == skippedBefore && metrics.Values.All(double.IsFinite);
                    if (!metrics.Values.All(double.IsFinite)) skipped++;
                }
                else
                {
                    metrics = task.TrainStep(groups[g]);
                    norm = GradientClipping.GlobalNorm(task.Parameters);
                    finite = double.IsFinite(norm) && metrics.Values.All(double.IsFinite);
                    if (finite) optimizer.Step(learningRate, GradientClipping.ClipCoefficient(norm, arguments.MaxGradNorm), zeroGradients: true);
                    else
                    {
                        skipped++;
                        task.Parameters.ZeroGradients();
                    }
                }
                state.GlobalStep++;
                state.StepInEpoch = g + 1;
                state.Epoch = state.EpochIndex + (double)(g + 1) / groups.Count;
                state.SkippedSteps = skipped;
                tokensSinceStart += metrics.TryGetValue("tokens", out var tokens) ? tokens : 0;
                window.Add(metrics, learningRate, norm);

                double tokensPerSecond = tokensSinceStart / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                TimeSpan? remaining = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / (state.GlobalStep - state.StartStep) * (totalSteps - state.GlobalStep));
                if (state.GlobalStep % arguments.LoggingSteps == 0 || state.GlobalStep == totalSteps)
                {
                    var logged = window.Flush(state.GlobalStep, state.Epoch, tokensPerSecond, skipped);
                    metricsLog.Append(logged);
                    history.Add(logged);
                    Report("log", logged, tokensPerSecond, clock.Elapsed, remaining, state);
                }
                else Report("step", metrics, tokensPerSecond, clock.Elapsed, remaining, state);

                if (divergence.Observe(state, finite, metrics) is { } diverged)
                    StopDiverged(checkpoints, diverged, state.GlobalStep);

                if (evalSet is { Count: > 0 } && arguments.EvalSteps > 0 && state.GlobalStep % arguments.EvalSteps == 0)
                    RunEvaluation(state, metricsLog, history, clock.Elapsed);
                bool interrupted = cancellation.IsCancellationRequested;
                if ((arguments.SaveSteps > 0 && state.GlobalStep % arguments.SaveSteps == 0) || (interrupted && state.GlobalStep < totalSteps))
                {
                    state.Extra = ExtraState?.Invoke().ToDictionary();
                    lastCheckpoint = checkpoints.Save(state, task, optimizer, arguments);
                    Report("save", new Dictionary<string, double>(), tokensPerSecond, clock.Elapsed, remaining, state);
                }
                if (interrupted && state.GlobalStep < totalSteps)
                    return new TrainingResult(state.GlobalStep, true, lastCheckpoint, skipped, history);
            }
            if (state.StepInEpoch >= groups.Count)
            {
                state.EpochIndex++;
                state.StepInEpoch = 0;
            }
        }

        // The final evaluation, unless the last step has just been evaluated (no duplicate entry or line).
        bool justEvaluated = history.Count > 0 && history[^1].GetValueOrDefault("step", -1) == state.GlobalStep
            && history[^1].Keys.Any(k => k.StartsWith("eval_", StringComparison.Ordinal));
        if (evalSet is { Count: > 0 } && !justEvaluated) RunEvaluation(state, metricsLog, history, clock.Elapsed);
        checkpoints.SaveFinal(directory =>
        {
            task.SaveModel(directory);
            TrainerState.SaveArguments(Path.Combine(directory, "training_args.json"), arguments);
        });
        return new TrainingResult(state.GlobalStep, false, lastCheckpoint, skipped, history);
    }

    /// <summary>
    /// Ends a diverged run without saving its weights: checkpoints saved from the diverged weights are deleted, the
    /// newest checkpoint left (if any) becomes the output folder's model, and <see cref="TrainingDivergedException"/> says so.
    /// </summary>
    private void StopDiverged(CheckpointStore checkpoints, DivergenceMonitor.Verdict verdict, int step)
    {
        // Step s's loss is computed with the weights after step s−1, so checkpoint s−1 already holds the bad weights.
        string? good = checkpoints.DiscardAfter(verdict.FirstBadStep - 2);
        if (good is not null) checkpoints.PublishModelFrom(good);
        throw new TrainingDivergedException(step, verdict.Reason, arguments.OutputDir, good);
    }

    /// <summary>One optimizer update for self-stepping tasks: clip, step (unless the norm is not finite), zero.</summary>
    private double ClipStepAndZero(AdamW optimizer, float learningRate, ref int skipped)
    {
        double norm = GradientClipping.GlobalNorm(task.Parameters);
        if (double.IsFinite(norm)) optimizer.Step(learningRate, GradientClipping.ClipCoefficient(norm, arguments.MaxGradNorm), zeroGradients: true);
        else
        {
            skipped++;
            task.Parameters.ZeroGradients();
        }
        return norm;
    }

    private List<IReadOnlyList<IReadOnlyList<TExample>>> Group(int[] order)
    {
        int batch = arguments.PerDeviceTrainBatchSize, accumulation = arguments.GradientAccumulationSteps;
        var microBatches = new List<IReadOnlyList<TExample>>();
        for (int start = 0; start < order.Length; start += batch)
            microBatches.Add(order.Skip(start).Take(batch).Select(i => trainSet[i]).ToArray());
        var groups = new List<IReadOnlyList<IReadOnlyList<TExample>>>();
        for (int start = 0; start < microBatches.Count; start += accumulation)
            groups.Add(microBatches.Skip(start).Take(accumulation).ToArray());
        return groups;
    }

    private void RunEvaluation(TrainerState state, MetricsLog log, List<IReadOnlyDictionary<string, double>> history, TimeSpan elapsed)
    {
        var metrics = task.Evaluate(evalSet!, arguments.PerDeviceEvalBatchSize);
        var entry = new Dictionary<string, double> { ["step"] = state.GlobalStep, ["epoch"] = Math.Round(state.Epoch, 4) };
        foreach (var (name, value) in metrics) entry["eval_" + name] = value;
        log.Append(entry);
        history.Add(entry);
        Report("eval", entry, 0, elapsed, null, state);
    }

    private void Report(string kind, IReadOnlyDictionary<string, double> metrics, double tokensPerSecond, TimeSpan elapsed, TimeSpan? remaining, TrainerState state) =>
        Progress?.Report(new TrainingProgress(state.GlobalStep, TotalSteps, state.Epoch, kind, metrics, tokensPerSecond, elapsed, remaining));

    /// <summary>Averages step metrics over a logging window, adding lr, grad_norm, tokens/s.</summary>
    private sealed class MetricWindow(string learningRateName, IReadOnlySet<string> latestValueMetrics)
    {
        private readonly Dictionary<string, double> latest = [];
        private readonly Dictionary<string, double> sums = [];
        private int count;
        private double lastLearningRate, normSum;

        public void Add(IReadOnlyDictionary<string, double> metrics, float learningRate, double norm)
        {
            foreach (var (name, value) in metrics)
            {
                if (name == "tokens") continue;
                if (latestValueMetrics.Contains(name)) latest[name] = value;
                else sums[name] = sums.GetValueOrDefault(name) + value;
            }
            lastLearningRate = learningRate;
            normSum += norm;
            count++;
        }

        public Dictionary<string, double> Flush(int step, double epoch, double tokensPerSecond, int skipped)
        {
            var entry = new Dictionary<string, double> { ["step"] = step, ["epoch"] = Math.Round(epoch, 4) };
            foreach (var (name, sum) in sums) entry[name] = sum / Math.Max(1, count);
            foreach (var (name, value) in latest) entry[name] = value;
            entry[learningRateName] = lastLearningRate;
            entry["grad_norm"] = normSum / Math.Max(1, count);
            entry["tokens_per_second"] = Math.Round(tokensPerSecond, 2);
            if (skipped > 0) entry["skipped_steps"] = skipped;
            sums.Clear();
            latest.Clear();
            count = 0;
            normSum = 0;
            return entry;
        }
    }
}
