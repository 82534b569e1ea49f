// `rlhf bench tokenize`: in-process GPT-2 encoding speed, ours beside Microsoft.ML.Tokenizers' Tiktoken GPT-2 on the
// same documents (hh-rlhf sample text by default), with an id-for-id agreement count.
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using TiktokenTokenizer = Microsoft.ML.Tokenizers.TiktokenTokenizer;
using Rlhf.Text;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class BenchTokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "GPT-2 tokenizer folder (default: the repository's tests/fixtures/gpt2_vocab)." };
        var file = new Option<string?>("--file") { Description = "Text: plain text, or JSONL(.gz) whose string fields are documents (default: data/samples/hh-rlhf-sample.jsonl.gz)." };
        var minChars = new Option<int>("--min-chars") { Description = "Repeat the documents until they hold at least this many characters.", DefaultValueFactory = _ => 8_000_000 };
        var runs = new Option<int>("--runs") { Description = "Timed passes over the documents (after one warm-up pass); best and median are reported.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var command = new Command("tokenize", "GPT-2 encoding throughput (chars/s, tokens/s), ours and Microsoft.ML.Tokenizers' Tiktoken, in this process.")
        {
            model, file, minChars, runs, json,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            int passes = parse.GetValue(runs);
            if (passes <= 0) throw new ArgumentException("--runs must be positive.");
            string folder = parse.GetValue(model) ?? Path.GetDirectoryName(ReferenceScripts.Find("tests/fixtures/gpt2_vocab/vocab.json")
                ?? throw new ArgumentException("Give --model: the GPT-2 vocabulary (tests/fixtures/gpt2_vocab) was not found above this folder."))!;
            string path = parse.GetValue(file) ?? ReferenceScripts.Find("data/samples/hh-rlhf-sample.jsonl.gz")
                ?? throw new ArgumentException("Give --file: data/samples/hh-rlhf-sample.jsonl.gz was not found above this folder.");
            if (!File.Exists(path)) throw new FileNotFoundException($"Input file '{path}' does not exist.");

            var documents = TokenizeCommand.ReadTexts(path).Where(t => t.Length > 0).ToList();
            if (documents.Count == 0) throw new ArgumentException($"'{path}' holds no text.");
            long chars = documents.Sum(d => (long)d.Length);
            int copies = (int)Math.Max(1, (parse.GetValue(minChars) + chars - 1) / chars);
            documents = [.. Enumerable.Repeat(documents, copies).SelectMany(d => d)];
            chars *= copies;

            var ours = BpeTokenizer.FromFolder(folder);
            var reference = TiktokenTokenizer.CreateForModel("gpt2");
            int agree = documents.Count(d => ours.Encode(d).AsSpan().SequenceEqual(reference.EncodeToIds(d).ToArray()));

            var oursRun = Measure(passes, documents, d => ours.Encode(d).Length);
            var referenceRun = Measure(passes, documents, d => reference.EncodeToIds(d).Count);
            double? peak = ProcessMemory.PeakResidentMiB();
            var rows = new[] { ("Rlhf.NET BpeTokenizer", oursRun), ("Microsoft.ML.Tokenizers 2.0.1 Tiktoken gpt2", referenceRun) };

            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    documents = documents.Count, chars, agree, peak_mib = peak,
                    results = rows.Select(r => new
                    {
                        name = r.Item1, tokens = r.Item2.Tokens, best_chars_per_s = chars / r.Item2.Best, median_chars_per_s = chars / r.Item2.Median,
                        best_tokens_per_s = r.Item2.Tokens / r.Item2.Best,
                    }),
                    ratio_best = oursRun.Best / referenceRun.Best,
                }));
                return 0;
            }
            var table = new Table().AddColumns("tokenizer", "M chars/s (best)", "M chars/s (median)", "M tokens/s (best)");
            foreach (var (name, run) in rows)
            {
                table.AddRow(name, $"{chars / run.Best / 1e6:F1}", $"{chars / run.Median / 1e6:F1}", $"{run.Tokens / run.Best / 1e6:F2}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine($"{documents.Count} documents ({chars / 1e6:F1} M chars, {copies}× {Path.GetFileName(path)}); "
                + $"ids agree on {agree}/{documents.Count}; ours takes {oursRun.Best / referenceRun.Best:F2}× the reference's time (best of {passes}); "
                + $"peak memory {peak:F0} MiB (both, one process)");
            return 0;
        }));
        return command;
    }

    private sealed record Run(double Best, double Median, long Tokens);

    /// <summary>One untimed pass, then <paramref name="passes"/> timed passes over every document, one at a time.</summary>
    private static Run Measure(int passes, List<string> documents, Func<string, int> encode)
    {
        long tokens = 0;
        foreach (var d in documents) tokens += encode(d);
        var seconds = new List<double>(passes);
        for (int p = 0; p < passes; p++)
        {
            var watch = Stopwatch.StartNew();
            foreach (var d in documents) encode(d);
            seconds.Add(watch.Elapsed.TotalSeconds);
        }
        seconds.Sort();
        return new Run(seconds[0], seconds[passes / 2], tokens);
    }
}
