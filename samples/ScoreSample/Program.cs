// Scoring responses with a reward model through the Rlhf C# API. Given a reward-model folder (from `rlhf reward`)
// it scores with that; otherwise it trains a tiny one here on a few pairs first (no download).
// Usage: dotnet run --project samples/ScoreSample [reward-model-folder]
using Rlhf;
using Rlhf.Training;

PreferenceExample[] pairs =
[
    new("Q: What is 2 + 2?\nA:", " 4.", " Go away."),
    new("Q: Name a colour.\nA:", " Blue.", " Go away."),
    new("Q: What do bees make?\nA:", " Honey.", " Go away."),
    new("Q: Which is bigger, 3 or 5?\nA:", " 5.", " Go away."),
];
using var scorer = args.Length > 0 ? RewardScorer.Load(args[0]) : TrainTiny(pairs);

foreach (var pair in pairs)
{
    float chosen = scorer.Score(pair.Prompt, pair.Chosen), rejected = scorer.Score(pair.Prompt, pair.Rejected);
    Console.WriteLine($"{pair.Prompt.Replace('\n', ' ')}  {pair.Chosen.Trim()} {chosen:F3}  vs  {pair.Rejected.Trim()} {rejected:F3}");
}
var scores = scorer.Score(pairs.SelectMany(p => new[] { (p.Prompt, p.Chosen), (p.Prompt, p.Rejected) }).ToArray());
int right = Enumerable.Range(0, pairs.Length).Count(i => scores[2 * i] > scores[2 * i + 1]);
Console.WriteLine($"The chosen response scores higher in {right} of {pairs.Length} pairs.");

static RewardScorer TrainTiny(PreferenceExample[] pairs)
{
    using var baseModel = LanguageModel.CreateRandom(pairs.SelectMany(p => new[] { p.Prompt + p.Chosen, p.Rejected }));
    var scorer = RewardScorer.FromLanguageModel(baseModel);
    var arguments = new TrainingArguments
    {
        OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-score-sample"), OverwriteOutputDir = true, MaxSteps = 30,
        PerDeviceTrainBatchSize = 4, LearningRate = 1e-3f, LoggingSteps = 10, SaveSteps = 0,
    };
    new RewardTrainer(scorer, arguments).Train(pairs);
    return scorer;
}
