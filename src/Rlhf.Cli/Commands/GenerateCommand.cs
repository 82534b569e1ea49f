// `rlhf generate`: answer prompts with a model folder (greedy or sampled), as text or JSON lines; prompts are rendered
// as in every command (PromptStyle: the chat template, else the `### Question/Answer` template, or --template / --raw).
using System.CommandLine;
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Text;
using Rlhf.Training;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder (Hugging Face layout); required here or in --config." };
        var prompt = new Option<string?>("--prompt") { Description = $"One prompt, e.g. \"What is 2 plus 3?\" ({PromptStyle.EscapeHelp})." };
        var prompts = new Option<string?>("--prompts") { Description = "A file of prompts: one per line, or JSONL with a \"prompt\" field." };
        var maxNewTokens = new Option<int?>("--max-new-tokens") { Description = "Tokens to generate at most (default: generation_config.json, else 64)." };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token." };
        var temperature = new Option<float?>("--temperature") { Description = "Sample at this temperature." };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens (0 = all)." };
        var topP = new Option<float?>("--top-p") { Description = "Sample among the most likely tokens holding probability p." };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Prompts generated together.", DefaultValueFactory = _ => 8 };
        var truncate = PromptOptions.TruncateLeftOption();
        var promptOptions = new PromptOptions();
        var json = new Option<bool>("--json") { Description = "One JSON object per prompt per line." };
        var weightsDtype = WeightsDtypeOption();
        var configFile = CommandSettings.CreateConfigOption();
        var command = new Command("generate", "Answer prompts with a model folder. " + PromptOptions.Story)
        {
            model, prompt, prompts, maxNewTokens, greedy, temperature, topK, topP, seed, batchSize, truncate, json, weightsDtype, configFile,
        };
        promptOptions.AddTo(command);
        var lora = new LoraCliOptions();
        lora.AddTo(command, training: false);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var settings = CommandSettings.Load(parse, configFile);
            string modelDir = InputFiles.RequireFolder(settings.Require(model), "--model");
            var texts = PromptInput.Read(settings.Get(prompt), settings.Get(prompts));
            int? maxNew = settings.Get(maxNewTokens), k = settings.Get(topK);
            float? temp = settings.Get(temperature), p = settings.Get(topP);
            bool isGreedy = settings.Get(greedy), asJson = settings.Get(json), truncateLeft = settings.Get(truncate);
            bool sample = temp is not null || k is not null || p is not null;
            if (sample && isGreedy) throw new ArgumentException("--greedy cannot be combined with --temperature, --top-k or --top-p.");
            if (maxNew is <= 0) throw new ArgumentException($"--max-new-tokens must be at least 1 (got {maxNew}).");
            var precision = ParseWeightsDtype(settings.Get(weightsDtype));
            promptOptions.Resolve(settings, null); // the template is checked before the model loads
            lora.AdapterFolder(settings);
            using var folder = ModelFolder.Load(modelDir);
            lora.MergeInto(settings, folder.Model, modelDir);
            var style = promptOptions.Resolve(settings, modelDir);
            var rendered = texts.Select(style.Render).ToArray();
            var promptIds = rendered.Select(t => folder.Tokenizer.Encode(t)).ToArray();
            var defaults = folder.Generation.ToOptions();
            var options = defaults with
            {
                MaxNewTokens = maxNew ?? defaults.MaxNewTokens,
                DoSample = !isGreedy && (sample || defaults.DoSample),
                Temperature = temp ?? defaults.Temperature,
                TopK = k ?? (sample ? 0 : defaults.TopK),
                TopP = p ?? defaults.TopP,
                Seed = settings.Get(seed),
                EosTokenId = folder.EosTokenId,
                PadTokenId = folder.PadTokenId,
                TruncatePromptLeft = truncateLeft,
            };
            PromptOptions.CheckLengths(promptIds, folder.Model.Config.ContextLength, options.MaxNewTokens, truncateLeft, modelDir);
            int batch = Math.Max(1, settings.Get(batchSize));
            using var packed = PackWeights(folder.Model, DtypeName(precision));
            for (int start = 0; start < texts.Count; start += batch)
            {
                var chunk = texts.Skip(start).Take(batch).ToArray();
                var results = Generator.Generate(folder.Model, promptIds.Skip(start).Take(batch).ToArray(), options with { Seed = options.Seed + (ulong)start }, packed);
                for (int i = 0; i < chunk.Length; i++)
                {
                    var result = results[i];
                    var visible = result.EndedWithEos ? result.Ids[..^1] : result.Ids;
                    string text = folder.Tokenizer.Decode(visible);
                    if (asJson)
                    {
                        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["prompt"] = chunk[i], ["rendered_prompt"] = rendered[start + i], ["prompt_ids"] = result.PromptIds, ["ids"] = result.Ids, ["text"] = text,
                            ["logprobs"] = result.LogProbs,
                        }));
                    }
                    else
                    {
                        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(rendered[start + i])}[/][green]{Markup.Escape(text)}[/]{(result.EndedWithEos ? "" : " [grey](max tokens)[/]")}");
                    }
                }
            }
            return 0;
        }));
        return command;
    }

    /// <summary><c>--weights-dtype float32|bfloat16</c>: the precision generation reads the weights in.</summary>
    public static Option<string> WeightsDtypeOption() => new("--weights-dtype")
    {
        Description = "Weights as generation reads them: float32 (exact, default) or bfloat16 (about twice as fast at batch 1; "
            + "logits differ from fp32 by ~0.1–1%, so greedy text can differ).",
        DefaultValueFactory = _ => "float32",
    };

    public static WeightPrecision ParseWeightsDtype(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => WeightPrecision.Float32,
        "bfloat16" or "bf16" => WeightPrecision.BFloat16,
        _ => throw new ArgumentException($"--weights-dtype must be float32 or bfloat16 (got '{name}')."),
    };

    public static string DtypeName(WeightPrecision precision) => precision == WeightPrecision.Float32 ? "float32" : "bfloat16";

    /// <summary>Packs the model once for all the prompts (null where packing is unsupported: float32 then runs unpacked).</summary>
    public static InferenceWeights? PackWeights(ICausalLm model, string? dtype)
    {
        var precision = ParseWeightsDtype(dtype ?? "float32");
        if (InferenceWeights.Supported) return InferenceWeights.Pack(model, precision);
        if (precision == WeightPrecision.BFloat16)
            throw new ArgumentException("--weights-dtype bfloat16 needs a CPU with AVX-512; use float32 here.");
        return null;
    }
}
