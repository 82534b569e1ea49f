// A seeded fuzz harness over every reader: mutated model folders (safetensors header and data, config.json,
// vocab.json/merges.txt, tokenizer.json, tokenizer_config.json) and data files (JSON Lines, JSON arrays, gzip, Parquet).
// Every case must end with a correct result or one short, single-line error naming the file, within a memory bound.
//
// CI runs 390 cases (30 per model file, 30 per data layout); more with RLHF_FUZZ_CASES=N (cases per target) and RLHF_FUZZ_SEED=S, e.g.
//   RLHF_FUZZ_CASES=2000 dotnet test -c Release --filter FullyQualifiedName~InputFuzzTests
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;
using Xunit.Abstractions;

namespace Rlhf.Tests.Fuzz;

public sealed class InputFuzzTests(ITestOutputHelper output, InputFuzzTests.BaseFolder baseFolder) : IClassFixture<InputFuzzTests.BaseFolder>
{
    /// <summary>Bytes one case may allocate (managed on this thread plus native slabs): the folders are a few hundred KB.</summary>
    private const long MemoryBound = 256L << 20;

    /// <summary>Longest acceptable error message (one line, in the user's terms).</summary>
    private const int MaxMessageLength = 400;

    private const string Probe = "Hello world, the quick brown fox.";

    private static int CasesPerTarget(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("RLHF_FUZZ_CASES"), out int n) && n > 0 ? n : ciDefault;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("RLHF_FUZZ_SEED"), out int s) ? s : 14;

    /// <summary>A tiny GPT-2 folder (tokenizer.json, vocab.json + merges.txt, configs, model.safetensors) built once.</summary>
    public sealed class BaseFolder : IDisposable
    {
        private readonly TempDirectory dir = new();
        public Dictionary<string, byte[]> Files { get; } = [];

        public BaseFolder()
        {
            string path = TinyModels.Create(dir.Sub("tiny"), layers: 1, channels: 16, context: 32);
            foreach (string file in Directory.GetFiles(path)) Files[Path.GetFileName(file)] = File.ReadAllBytes(file);
        }

        public void Dispose() => dir.Dispose();
    }

    private sealed class Tally
    {
        public int Cases, Correct, CleanErrors;
        public long WorstBytes;
        public string WorstBytesCase = "";
        public double WorstSeconds;
        public readonly List<string> Failures = [];
        public readonly Dictionary<string, int> ByTarget = [];

        public void Report(ITestOutputHelper output, string what)
        {
            output.WriteLine($"{what}: {Cases} cases (seed {Seed}): {Correct} correct results, {CleanErrors} clean errors, {Failures.Count} failures");
            output.WriteLine($"  per target: {string.Join(", ", ByTarget.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"))}");
            output.WriteLine($"  worst case allocated {WorstBytes / (1 << 20):F1} MiB ({WorstBytesCase}); slowest case {WorstSeconds:F2} s");
            foreach (string failure in Failures.Take(20)) output.WriteLine("  FAIL " + failure);
        }
    }

    [Fact]
    public void MutatedModelFoldersLoadCorrectlyOrFailWithOneLineNamingTheFile()
    {
        // target file → how to mutate it, and whether tokenizer.json is removed (so vocab.json/merges.txt are read).
        var targets = new (string File, Func<Random, byte[], Mutation> Mutate, bool WithoutTokenizerJson)[]
        {
            ("model.safetensors", SafeTensorsMutation, false),
            ("config.json", Mutator.Json, false),
            ("vocab.json", Mutator.Json, true),
            ("merges.txt", Mutator.Lines, true),
            ("tokenizer.json", Mutator.Json, false),
            ("tokenizer_config.json", Mutator.Json, false),
        };
        var tally = new Tally();
        int perTarget = CasesPerTarget(30);
        using var dir = new TempDirectory();
        for (int t = 0; t < targets.Length; t++)
        {
            var (target, mutate, withoutTokenizerJson) = targets[t];
            for (int i = 0; i < perTarget; i++)
            {
                var random = new Random(unchecked(Seed * 1_000_003 + t * 10_007 + i));
                var mutation = mutate(random, baseFolder.Files[target]);
                string folder = dir.Sub($"case-{t}-{i}");
                Directory.CreateDirectory(folder);
                foreach (var (name, bytes) in baseFolder.Files)
                {
                    if (withoutTokenizerJson && name == "tokenizer.json") continue;
                    File.WriteAllBytes(Path.Combine(folder, name), name == target ? mutation.Bytes : bytes);
                }
                RunCase(tally, $"{target} #{i} ({mutation.Name})", target, folder, () => UseModelFolder(folder));
                Directory.Delete(folder, recursive: true);
            }
        }
        tally.Report(output, "model folders");
        Assert.True(tally.Failures.Count == 0, string.Join("\n", tally.Failures.Take(10)));
    }

    [Fact]
    public void MutatedDataFilesReadCorrectlyOrFailWithOneLineNamingTheFile()
    {
        var rows = Enumerable.Range(0, 12).Select(i => JsonSerializer.Serialize(new
        {
            chosen = $"\n\nHuman: Question {i}?\n\nAssistant: A helpful answer {i}.",
            rejected = $"\n\nHuman: Question {i}?\n\nAssistant: No {i}.",
        })).ToArray();
        byte[] jsonl = Encoding.UTF8.GetBytes(string.Join("\n", rows) + "\n");
        byte[] array = Encoding.UTF8.GetBytes("[\n" + string.Join(",\n", rows) + "\n]\n");
        var targets = new (string Name, byte[] Plain, bool Gzip)[]
        {
            ("data.jsonl", jsonl, false), ("data.json", array, false), ("data.jsonl.gz", jsonl, true), ("data.json.gz", array, true),
            ("data.parquet", File.ReadAllBytes(Fixtures.Path("parquet", "hh_preference.parquet")), false),
            ("conversations.parquet", File.ReadAllBytes(Fixtures.Path("parquet", "trl_preference.parquet")), false),
            // Last, so the targets above keep their cases: a string prompt beside conversations (ultrafeedback_binarized).
            ("ultrafeedback.parquet", File.ReadAllBytes(Fixtures.Path("parquet", "ultrafeedback_prefs.parquet")), false),
        };
        var tally = new Tally();
        int perTarget = CasesPerTarget(30);
        using var dir = new TempDirectory();
        for (int t = 0; t < targets.Length; t++)
        {
            var (name, plain, gzip) = targets[t];
            for (int i = 0; i < perTarget; i++)
            {
                var random = new Random(unchecked(Seed * 1_000_003 + (100 + t) * 10_007 + i));
                // gzip files: mutate the text before compressing, or the compressed bytes themselves.
                bool mutateCompressed = gzip && random.Next(2) == 0;
                // Parquet files: their bytes mutated anywhere (pages, footer, magic).
                var mutation = mutateCompressed ? Mutator.Bytes(random, Gzip(plain))
                    : name.EndsWith(".parquet", StringComparison.Ordinal) ? Mutator.Bytes(random, plain) : DataMutation(random, plain);
                byte[] bytes = gzip && !mutateCompressed ? Gzip(mutation.Bytes) : mutation.Bytes;
                string path = dir.Sub($"{t}-{i}-{name}");
                File.WriteAllBytes(path, bytes);
                bool skipBadRows = random.Next(2) == 0;
                bool preference = random.Next(2) == 0;
                bool flatten = random.Next(2) == 0; // conversational rows without a chat template: flattened, or an error
                RunCase(tally, $"{name} #{i} ({(mutateCompressed ? "compressed " : "")}{mutation.Name}{(skipBadRows ? ", skip bad rows" : "")}{(flatten ? ", flattened" : "")})", name, path,
                    () => UseDataFile(path, skipBadRows, preference, flatten));
                File.Delete(path);
            }
        }
        tally.Report(output, "data files");
        Assert.True(tally.Failures.Count == 0, string.Join("\n", tally.Failures.Take(10)));
    }

    /// <summary>Runs one case: a clean result, or an error that is one short line naming <paramref name="path"/>.</summary>
    private static void RunCase(Tally tally, string name, string target, string path, Action use)
    {
        tally.Cases++;
        tally.ByTarget[target] = tally.ByTarget.GetValueOrDefault(target) + 1;
        long managedBefore = GC.GetAllocatedBytesForCurrentThread(), nativeBefore = NativeSlab.BytesAllocatedOnCurrentThread;
        var clock = Stopwatch.StartNew();
        string? failure = null;
        try
        {
            use();
            tally.Correct++;
        }
        catch (Exception error) when (error is ModelFormatException or DataFormatException or FileNotFoundException)
        {
            string message = error.Message;
            if (message.Contains('\n') || message.Contains('\r')) failure = $"multi-line message: {Clip(message)}";
            else if (message.Length > MaxMessageLength) failure = $"message of {message.Length} characters: {Clip(message)}";
            else if (!message.Contains(path)) failure = $"message does not name {path}: {message}";
            else tally.CleanErrors++;
        }
        catch (CaseCheckFailed error)
        {
            failure = "wrong result: " + error.Message;
        }
        catch (Exception error)
        {
            failure = $"{error.GetType().Name}: {Clip(error.Message)} at {error.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
        }
        clock.Stop();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - managedBefore + NativeSlab.BytesAllocatedOnCurrentThread - nativeBefore;
        if (bytes > tally.WorstBytes)
        {
            tally.WorstBytes = bytes;
            tally.WorstBytesCase = name;
        }
        tally.WorstSeconds = Math.Max(tally.WorstSeconds, clock.Elapsed.TotalSeconds);
        if (bytes > MemoryBound) failure ??= $"allocated {bytes / (1 << 20)} MiB, over the {MemoryBound >> 20} MiB bound";
        if (failure is not null) tally.Failures.Add($"{name}: {failure}");
    }

    private sealed class CaseCheckFailed(string message) : Exception(message);

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new CaseCheckFailed(what);
    }

    /// <summary>Loads the folder and uses it: the probe round-trips through the tokenizer and 3 greedy tokens come out.</summary>
    private static void UseModelFolder(string folder)
    {
        using var loaded = ModelFolder.Load(folder);
        var ids = loaded.Tokenizer.Encode(Probe);
        // A vocabulary without some byte's token drops that byte, as Hugging Face's BPE does without an unk token.
        bool allBytes = Encoding.UTF8.GetBytes(Probe).All(b => loaded.Tokenizer.TryGetId(ByteLevel.ByteToChar(b).ToString(), out _));
        Check(!allBytes || loaded.Tokenizer.Decode(ids) == Probe, "the probe does not round-trip through the tokenizer");
        var prompt = ids.Take(Math.Max(1, Math.Min(ids.Length, loaded.Model.Config.ContextLength - 4))).ToArray();
        if (prompt.Length == 0) prompt = [0];
        if (loaded.Model.Config.ContextLength < prompt.Length + 3) return; // a model this short cannot continue the probe
        var result = Generator.Generate(loaded.Model, [prompt], new GenerationOptions { MaxNewTokens = 3, EosTokenId = loaded.EosTokenId, PadTokenId = loaded.PadTokenId })[0];
        Check(result.Ids.All(id => id >= 0 && id < loaded.Model.Config.VocabSize), "a generated id is outside the vocabulary");
        Check(result.LogProbs.All(p => float.IsFinite(p) && p <= 0), "a generated log-prob is not a finite log-probability");
    }

    /// <summary>Reads the file through a pipeline; every example it returns must be whole text.</summary>
    private static void UseDataFile(string path, bool skipBadRows, bool preference, bool flatten)
    {
        var options = new DataPipelineOptions { SkipBadRows = skipBadRows, MaxLineLength = 1 << 20, SingleTurnOnly = false, FlattenMessages = flatten };
        if (preference)
        {
            var result = PreferencePipeline.Run(path, options);
            Check(result.Examples.All(e => e.Prompt is not null && e.Chosen is not null && e.Rejected is not null), "an example has a null field");
        }
        else
        {
            var result = SftPipeline.Run(path, options);
            Check(result.Examples.All(e => e.Instruction is not null && e.Response is not null), "an example has a null field");
        }
    }

    /// <summary>safetensors: the header's JSON edited, its length field changed, or the bytes mutated anywhere.</summary>
    private static Mutation SafeTensorsMutation(Random random, byte[] original)
    {
        int headerLength = (int)BitConverter.ToUInt64(original, 0);
        switch (random.Next(4))
        {
            case 0:
            {
                var header = Mutator.Json(random, original[8..(8 + headerLength)]);
                var bytes = new byte[8 + header.Bytes.Length + original.Length - 8 - headerLength];
                BitConverter.TryWriteBytes(bytes, (ulong)header.Bytes.Length);
                header.Bytes.CopyTo(bytes, 8);
                original.AsSpan(8 + headerLength).CopyTo(bytes.AsSpan(8 + header.Bytes.Length));
                return new("header " + header.Name, bytes);
            }
            case 1:
            {
                var bytes = (byte[])original.Clone();
                ulong[] lengths = [0, 1, 7, (ulong)headerLength - 1, (ulong)headerLength + 1, (ulong)original.Length, ulong.MaxValue, 1UL << 40];
                ulong value = lengths[random.Next(lengths.Length)];
                BitConverter.TryWriteBytes(bytes, value);
                return new($"header length {value}", bytes);
            }
            case 2:
            {
                // A weight turned into NaN or Inf.
                var bytes = (byte[])original.Clone();
                int at = 8 + headerLength + 4 * random.Next((original.Length - 8 - headerLength) / 4);
                BitConverter.TryWriteBytes(bytes.AsSpan(at), random.Next(2) == 0 ? float.NaN : float.NegativeInfinity);
                return new("non-finite weight", bytes);
            }
            default:
                return Mutator.Bytes(random, original);
        }
    }

    /// <summary>Data rows: nulls, wrong types, lone surrogates, huge lines, or plain byte and line damage.</summary>
    private static Mutation DataMutation(Random random, byte[] plain)
    {
        string text = Encoding.UTF8.GetString(plain);
        switch (random.Next(5))
        {
            case 0:
                string[] values = ["null", "3", "[]", "{}", "\"\\ud800\"", "\"\\udfff tail\"", "\"\"", "true"];
                string value = values[random.Next(values.Length)];
                string field = random.Next(2) == 0 ? "chosen" : "rejected";
                int occurrence = random.Next(12), seen = 0;
                string needle = $"\"{field}\":";
                var builder = new StringBuilder();
                int position = 0;
                while (true)
                {
                    int found = text.IndexOf(needle, position, StringComparison.Ordinal);
                    if (found < 0) break;
                    builder.Append(text, position, found - position).Append(needle);
                    position = found + needle.Length;
                    if (seen++ == occurrence)
                    {
                        int end = text.IndexOf("\",", position, StringComparison.Ordinal);
                        if (end < 0) end = text.IndexOf("\"}", position, StringComparison.Ordinal);
                        builder.Append(value);
                        position = end + 1;
                    }
                }
                builder.Append(text, position, text.Length - position);
                return new($"{field} = {value}", Encoding.UTF8.GetBytes(builder.ToString()));
            case 1:
                return Mutator.Lines(random, plain);
            default:
                return Mutator.Bytes(random, plain);
        }
    }

    private static byte[] Gzip(byte[] plain)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest)) gz.Write(plain);
        return buffer.ToArray();
    }

    private static string Clip(string text) => text.Length <= 300 ? text : text[..300] + $"… ({text.Length} characters)";
}
