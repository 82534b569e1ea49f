// `rlhf generate`: continue prompts with a model folder (greedy or sampled), as text or JSON lines.
using System.CommandLine;
using System.Text.Json;
using Rlhf.Models.Generation;
using Rlhf.Text;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (Hugging Face layout).", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt." };
        var prompts = new Option<string?>("--prompts") { Description = "A file of prompts: one per line, or JSONL with a \"prompt\" field." };
        var maxNewTokens = new Option<int?>("--max-new-tokens") { Description = "Tokens to generate at most (default: generation_config.json, else 64)." };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token." };
        var temperature = new Option<float?>("--temperature") { Description = "Sample at this temperature." };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens (0 = all)." };
        var topP = new Option<float?>("--top-p") { Description = "Sample among the most likely tokens holding probability p." };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Prompts generated together.", DefaultValueFactory = _ => 8 };
        var truncate = new Option<bool>("--truncate-left") { Description = "Cut long prompts from the left instead of failing." };
        var json = new Option<bool>("--json") { Description = "One JSON object per prompt per line." };
        var command = new Command("generate", "Generate continuations of prompts with a model folder.")
        {
            model, prompt, prompts, maxNewTokens, greedy, temperature, topK, topP, seed, batchSize, truncate, json,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var texts = PromptInput.Read(parse.GetValue(prompt), parse.GetValue(prompts));
            using var folder = ModelFolder.Load(parse.GetValue(model)!);
            bool sample = parse.GetValue(temperature) is not null || parse.GetValue(topK) is not null || parse.GetValue(topP) is not null;
            if (sample && parse.GetValue(greedy)) throw new ArgumentException("--greedy cannot be combined with --temperature, --top-k or --top-p.");
            var defaults = folder.Generation.ToOptions();
            var options = defaults with
            {
                MaxNewTokens = parse.GetValue(maxNewTokens) ?? defaults.MaxNewTokens,
                DoSample = !parse.GetValue(greedy) && (sample || defaults.DoSample),
                Temperature = parse.GetValue(temperature) ?? defaults.Temperature,
                TopK = parse.GetValue(topK) ?? (sample ? 0 : defaults.TopK),
                TopP = parse.GetValue(topP) ?? defaults.TopP,
                Seed = parse.GetValue(seed),
                EosTokenId = folder.EosTokenId,
                PadTokenId = folder.PadTokenId,
                TruncatePromptLeft = parse.GetValue(truncate),
            };
            int batch = Math.Max(1, parse.GetValue(batchSize));
            for (int start = 0; start < texts.Count; start += batch)
            {
                var chunk = texts.Skip(start).Take(batch).ToArray();
                var results = Generator.Generate(folder.Model, chunk.Select(t => folder.Tokenizer.Encode(t)).ToArray(), options with { Seed = options.Seed + (ulong)start });
                for (int i = 0; i < chunk.Length; i++)
                {
                    var result = results[i];
                    var visible = result.EndedWithEos ? result.Ids[..^1] : result.Ids;
                    string text = folder.Tokenizer.Decode(visible);
                    if (parse.GetValue(json))
                    {
                        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["prompt"] = chunk[i], ["prompt_ids"] = result.PromptIds, ["ids"] = result.Ids, ["text"] = text,
                            ["logprobs"] = result.LogProbs,
                        }));
                    }
                    else
                    {
                        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(chunk[i])}[/][green]{Markup.Escape(text)}[/]{(result.EndedWithEos ? "" : " [grey](max tokens)[/]")}");
                    }
                }
            }
            return 0;
        }));
        return command;
    }
}
