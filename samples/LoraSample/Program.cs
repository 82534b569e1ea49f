// LoRA with the Rlhf C# API, as PEFT users know it: DPO trains adapters only (LoraConfig as TRL's peft_config), the
// output is a PEFT adapter folder, which loads onto its base (PeftModel.from_pretrained) and merges into a plain model.
// Usage: dotnet run --project samples/LoraSample [work-folder]
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
string work = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "rlhf-lora-sample");
string baseFolder = Path.Combine(work, "base"), adapterFolder = Path.Combine(work, "dpo-lora"), mergedFolder = Path.Combine(work, "merged");

// A real run loads an SFT model folder instead; here a tiny random GPT-2 is saved first, to be the adapters' base.
using (var random = LanguageModel.CreateRandom(pairs.SelectMany(p => new[] { p.Prompt + p.Chosen, p.Rejected })))
    random.Save(baseFolder);
using var model = LanguageModel.Load(baseFolder);

var lora = new LoraConfig { Rank = 8, Alpha = 16, Dropout = 0f, TargetModules = [LoraConfig.AllLinear] };
var arguments = new TrainingArguments
{
    OutputDir = adapterFolder, OverwriteOutputDir = true, MaxSteps = 20, PerDeviceTrainBatchSize = 4, LearningRate = 1e-2f,
    LoggingSteps = 5, SaveSteps = 0, GradientCheckpointing = true,
};
var trainer = new DpoTrainer(model, arguments, new DpoConfig { Beta = 0.3f }, peftConfig: lora); // reference: the base, adapters off
Console.WriteLine($"LoRA on {string.Join(", ", model.AdapterConfig!.TargetModules!)}: training {model.TrainableParameterCount:N0} of {model.ParameterCount:N0} weights");
trainer.Progress += (_, p) =>
{
    if (p.Event == "log") Console.WriteLine($"step {p.Step}/{p.TotalSteps}  loss {p.Metrics["loss"]:F4}");
};
trainer.Train(pairs);
Console.WriteLine($"adapter folder: {string.Join(", ", Directory.GetFiles(adapterFolder, "adapter_*").Select(Path.GetFileName).Order())}");

const string prompt = "Q: Name a colour.\nA:";
var greedy = new Rlhf.Models.Generation.GenerationOptions { MaxNewTokens = 4 };
using var tuned = LanguageModel.Load(baseFolder, adapterFolder);
string withAdapters = tuned.Generate(prompt, greedy);
tuned.MergeAndUnload();
tuned.Save(mergedFolder);
using var merged = LanguageModel.Load(mergedFolder);
Console.WriteLine($"with adapters: [{withAdapters.ReplaceLineEndings(" ")}]");
Console.WriteLine($"merged:        [{merged.Generate(prompt, greedy).ReplaceLineEndings(" ")}]");
