// DPO on a few in-memory preference pairs with the Rlhf C# API, on a tiny random model made here (no download).
// Usage: dotnet run --project samples/DpoSample [output-folder]
using Rlhf;
using Rlhf.Training;
using Rlhf.Training.Dpo;

PreferenceExample[] pairs =
[
    new("Q: What is 2 + 2?\nA:", " 4.", " I don't know."),
    new("Q: Name a colour.\nA:", " Blue.", " I don't know."),
    new("Q: What do bees make?\nA:", " Honey.", " I don't know."),
    new("Q: Which is bigger, 3 or 5?\nA:", " 5.", " I don't know."),
];
// A real run loads an SFT model folder instead: LanguageModel.Load("path/to/sft-model").
using var model = LanguageModel.CreateRandom(pairs.SelectMany(p => new[] { p.Prompt + p.Chosen, p.Rejected }));
string output = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "rlhf-dpo-sample");

var arguments = new TrainingArguments
{
    OutputDir = output, OverwriteOutputDir = true, MaxSteps = 20, PerDeviceTrainBatchSize = 4,
    LearningRate = 1e-3f, LoggingSteps = 5, SaveSteps = 0,
};
var trainer = new DpoTrainer(model, arguments, new DpoConfig { Beta = 0.3f });
trainer.Progress += (_, p) =>
{
    if (p.Event == "log")
        Console.WriteLine($"step {p.Step}/{p.TotalSteps}  loss {p.Metrics["loss"]:F4}  accuracy {p.Metrics["rewards/accuracies"]:F2}");
};
var result = trainer.Train(pairs);
Console.WriteLine($"Trained {result.GlobalStep} steps; the model folder is {output}.");
Console.WriteLine("Q: Name a colour.\nA:" + model.Generate("Q: Name a colour.\nA:", new() { MaxNewTokens = 4 }));
