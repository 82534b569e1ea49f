// Random tiny Llama-family folders for the GGUF tests, with the Hub tokenizer fixtures of tests/fixtures/tokenizers.
using System.Text.Json.Nodes;
using Rlhf.Models.Llama;
using Rlhf.Tensors;
using Rlhf.Text;
using Rlhf.Training;

namespace Rlhf.GgufTests;

internal static class LlamaGgufModels
{
    /// <summary>A tokenizer fixture (tests/fixtures/tokenizers/NAME: smollm2, qwen2, llama3, tinyllama, llama2_metaspace).</summary>
    public static BpeTokenizer Tokenizer(string name) =>
        BpeTokenizer.FromFolder(Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", name));

    /// <summary>
    /// A SentencePiece-style fixture made self-consistent as SentencePiece's own vocabularies are: every multi-character
    /// piece is the merge of two pieces. The fixtures were cut from the Hub files, which left pieces such as "日本"
    /// without "日": Hugging Face's BPE can never emit them (no merge reaches them), but llama.cpp's SentencePiece
    /// algorithm merges any adjacent pair whose text is a piece. Dropping the unreachable pieces (their ids become
    /// holes) and the merges that use them leaves Hugging Face's tokenization unchanged.
    /// </summary>
    public static BpeTokenizer ConsistentSentencePiece(string fixture, string directory)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", fixture);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer.json")))!.AsObject();
        var model = json["model"]!.AsObject();
        var vocab = model["vocab"]!.AsObject();
        var merges = model["merges"]!.AsArray().Select(m => m is JsonArray pair
            ? (pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>())
            : (m!.GetValue<string>().Split(' ', 2)[0], m.GetValue<string>().Split(' ', 2)[1])).ToList();
        var added = json["added_tokens"]!.AsArray().Select(t => t!["content"]!.GetValue<string>()).ToHashSet();
        var reachable = vocab.Select(p => p.Key).Where(t => t.EnumerateRunes().Count() == 1 || added.Contains(t) || t.StartsWith("<0x", StringComparison.Ordinal)).ToHashSet();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var (left, right) in merges)
                if (reachable.Contains(left) && reachable.Contains(right) && vocab.ContainsKey(left + right)) grew |= reachable.Add(left + right);
        }
        foreach (string token in vocab.Select(p => p.Key).Where(t => !reachable.Contains(t)).ToList()) vocab.Remove(token);
        var kept = new JsonArray();
        foreach (var (left, right) in merges.Where(m => reachable.Contains(m.Item1) && reachable.Contains(m.Item2))) kept.Add(new JsonArray(left, right));
        model["merges"] = kept;
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), json.ToJsonString());
        File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(directory, "tokenizer_config.json"));
        return BpeTokenizer.FromFolder(directory);
    }

    /// <summary>
    /// Llama with grouped-query attention (4 heads, 2 key/value heads), an untied LM head and Llama 3 rope scaling whose
    /// original context (64) puts the 8 rotary frequencies in all three bands (wavelengths 6.3 < 16, 20 and 63 between, ≥ 199 > 64); SmolLM2's tokenizer.
    /// </summary>
    public static LlamaConfig Llama(int vocabSize) => new()
    {
        Family = "llama", VocabSize = vocabSize, Hidden = 64, IntermediateSize = 96, LayerCount = 2, HeadCount = 4, KeyValueHeadCount = 2,
        HeadDim = 16, ContextLength = 64, RmsNormEpsilon = 1e-5f, RopeTheta = 10000, TieWordEmbeddings = false,
        RopeScaling = new Llama3RopeScaling(8.0, 1.0, 4.0, 64), BosTokenId = null, EosTokenId = null,
    };

    /// <summary>Qwen2: q/k/v biases, tied head, 4 heads over 2 key/value heads, rope θ 10⁶.</summary>
    public static LlamaConfig Qwen2(int vocabSize) => new()
    {
        Family = "qwen2", VocabSize = vocabSize, Hidden = 64, IntermediateSize = 96, LayerCount = 2, HeadCount = 4, KeyValueHeadCount = 2,
        HeadDim = 16, ContextLength = 64, RmsNormEpsilon = 1e-6f, RopeTheta = 1_000_000, TieWordEmbeddings = true, BosTokenId = null, EosTokenId = null,
    };

    /// <summary>
    /// Saves a random model of <paramref name="config"/> with <paramref name="tokenizer"/>: weights N(0, 0.3), norm
    /// weights 1 + N(0, 0.1) and biases N(0, 0.1), so that every tensor matters and greedy choices are clear.
    /// </summary>
    public static string Folder(string directory, LlamaConfig config, BpeTokenizer tokenizer, ulong seed = 5)
    {
        using var model = LlamaModel.CreateRandom(config with { Architecture = config.CausalLmArchitectureName }, seed);
        var rng = new Rng(seed + 100);
        foreach (var parameter in model.Parameters.Parameters)
        {
            var values = parameter.Value.Span;
            bool norm = parameter.Name.EndsWith("norm.weight", StringComparison.Ordinal);
            rng.FillNormal(values, 0, norm || parameter.Name.EndsWith(".bias", StringComparison.Ordinal) ? 0.1 : 0.3);
            if (norm) for (int i = 0; i < values.Length; i++) values[i] += 1;
        }
        using var folder = new ModelFolder(model, tokenizer);
        folder.Save(directory);
        return directory;
    }
}
