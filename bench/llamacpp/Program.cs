// The llama.cpp reference for `rlhf bench generate`: greedy decoding of random prompts from a GGUF file, timed like
// ours (prefill = the first token, then decode tokens/s over the rest; best of N runs); prints one JSON line.
using System.Diagnostics;
using System.Text.Json;
using Rlhf.Bench.LlamaCpp;

var options = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
string Get(string name) => options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");
string model = Get("model");
int batch = int.Parse(Get("batch-size")), promptLength = int.Parse(Get("prompt-len")), newTokens = int.Parse(Get("new-tokens"));
int threads = int.Parse(Get("threads")), runs = int.Parse(Get("runs"));

if (LlamaSession.Unavailable is string reason)
{
    Console.Error.WriteLine($"llama.cpp cannot load: {reason}");
    return 2;
}
// llama.cpp's own defaults for the cache (fp16 keys/values, flash attention when it chooses): its best settings.
using var session = new LlamaSession(model, batch * (promptLength + newTokens + 8), threads, sequences: batch, exactCache: false);
var random = new Random(7);
var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, promptLength).Select(_ => random.Next(session.VocabSize)).ToArray()).ToArray();
session.GenerateGreedy(prompts, 2); // warm-up
double prefill = double.PositiveInfinity, decode = double.PositiveInfinity;
for (int run = 0; run < runs; run++)
{
    var clock = Stopwatch.StartNew();
    session.GenerateGreedy(prompts, 1);
    double prefillRun = clock.Elapsed.TotalMilliseconds;
    clock.Restart();
    session.GenerateGreedy(prompts, newTokens);
    prefill = Math.Min(prefill, prefillRun);
    decode = Math.Min(decode, clock.Elapsed.TotalMilliseconds - prefillRun);
}
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["prefill_ms"] = prefill,
    ["tokens_per_s"] = batch * (newTokens - 1) / Math.Max(1e-9, decode / 1000),
    ["threads"] = threads,
}));
return 0;
