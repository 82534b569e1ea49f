// The Llama family's GGUF layout read back by the independent reader: llama.cpp's names and keys, the q/k rotary row
// permutation, Llama 3's rope_freqs (recomputed here from Meta's formula), qwen2's biases, the tokenizer kinds, and
// the refusal of a pre-tokenizer llama.cpp does not have.
using System.Text.Json.Nodes;
using Rlhf.Export;
using Rlhf.Models.Llama;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Training;
using Xunit;

namespace Rlhf.Tests.Export;

public sealed class LlamaGgufExportTests
{
    private static LlamaConfig Config(string family, int vocabSize) => new()
    {
        Family = family, VocabSize = vocabSize, Hidden = 32, IntermediateSize = 48, LayerCount = 2, HeadCount = 4, KeyValueHeadCount = 2,
        HeadDim = 8, ContextLength = 64, RmsNormEpsilon = 1e-5f, RopeTheta = 10000, TieWordEmbeddings = family == "qwen2",
        RopeScaling = family == "qwen2" ? null : new Llama3RopeScaling(8.0, 1.0, 4.0, 64), BosTokenId = null, EosTokenId = null,
    };

    private static string Folder(TempDirectory temp, string family, BpeTokenizer tokenizer)
    {
        var config = Config(family, tokenizer.VocabSize);
        using var model = LlamaModel.CreateRandom(config with { Architecture = config.CausalLmArchitectureName }, seed: 9);
        var rng = new Rng(10);
        foreach (var parameter in model.Parameters.Parameters) rng.FillNormal(parameter.Value.Span, 0, 0.5);
        using var folder = new ModelFolder(model, tokenizer);
        string directory = temp.Sub("model");
        folder.Save(directory);
        return directory;
    }

    [Fact]
    public void LlamaFileHasLlamaCppsKeysPermutedQueryKeyRowsRopeFactorsAndSentencePieceVocabulary()
    {
        using var temp = new TempDirectory();
        var tokenizer = BpeTokenizer.FromFolder(Fixtures.Path("tokenizers", "tinyllama"));
        string directory = Folder(temp, "llama", tokenizer);
        var result = GgufExporter.Export(directory, temp.Sub("out.gguf"), GgufOutType.F32);
        var file = new GgufReader(result.Path);
        using var loaded = ModelFolder.Load(directory);
        var model = (LlamaModel)loaded.Model;

        Assert.Equal("llama", file.Metadata["general.architecture"]);
        Assert.Equal(2u, file.Metadata["llama.block_count"]);
        Assert.Equal(32u, file.Metadata["llama.embedding_length"]);
        Assert.Equal(48u, file.Metadata["llama.feed_forward_length"]);
        Assert.Equal(4u, file.Metadata["llama.attention.head_count"]);
        Assert.Equal(2u, file.Metadata["llama.attention.head_count_kv"]);
        Assert.Equal(8u, file.Metadata["llama.rope.dimension_count"]);
        Assert.Equal(10000f, file.Metadata["llama.rope.freq_base"]);
        Assert.Equal(1e-5f, file.Metadata["llama.attention.layer_norm_rms_epsilon"]);
        Assert.Equal((uint)tokenizer.VocabSize, file.Metadata["llama.vocab_size"]);

        var names = file.Tensors.Select(t => t.Name).ToHashSet();
        Assert.Contains("output.weight", names); // untied
        Assert.Contains("rope_freqs.weight", names);
        Assert.Contains("blk.1.ffn_gate.weight", names);
        Assert.DoesNotContain("blk.0.attn_q.bias", names);
        Assert.Equal(1 + 1 + 2 * 9 + 2, names.Count);

        // Row 2j + k of head h in the file is row k·d/2 + j of transformers' k_proj (d = 8).
        var k = file.Float32s(file.Tensors.Single(t => t.Name == "blk.1.attn_k.weight"));
        var source = model.Parameters["model.layers.1.self_attn.k_proj.weight"].Value.ToArray();
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int kk = 0; kk < 2; kk++)
                    Assert.Equal(source.AsSpan((h * 8 + kk * 4 + j) * 32, 32).ToArray(), k.AsSpan((h * 8 + 2 * j + kk) * 32, 32).ToArray());
        Assert.Equal(model.Parameters["model.layers.0.self_attn.v_proj.weight"].Value.ToArray(),
            file.Float32s(file.Tensors.Single(t => t.Name == "blk.0.attn_v.weight")));

        // Llama 3's factors (Meta's apply_scaling): wavelength 2π/f below original/high → 1, above original/low → factor,
        // between → 1 / ((1 − s)/factor + s) with s = (original/wavelength − low)/(high − low).
        var factors = file.Float32s(file.Tensors.Single(t => t.Name == "rope_freqs.weight"));
        Assert.Equal(4, factors.Length);
        for (int i = 0; i < 4; i++)
        {
            double frequency = Math.Pow(10000, -2.0 * i / 8), wavelength = 2 * Math.PI / frequency;
            double s = (64 / wavelength - 1) / (4 - 1);
            double expected = wavelength < 64 / 4.0 ? 1 : wavelength > 64 / 1.0 ? 8 : 1 / ((1 - s) / 8 + s);
            Assert.Equal(expected, factors[i], 1e-4 * expected);
        }
        Assert.Contains(factors, f => f == 1f);
        Assert.Contains(factors, f => Math.Abs(f - 8) < 1e-4);
        Assert.Contains(factors, f => f > 1.01f && f < 7.99f); // the smooth band

        Assert.Equal("llama", file.Metadata["tokenizer.ggml.model"]);
        Assert.False(file.Metadata.ContainsKey("tokenizer.ggml.merges"));
        var tokens = (object[])file.Metadata["tokenizer.ggml.tokens"];
        var types = (object[])file.Metadata["tokenizer.ggml.token_type"];
        var scores = (object[])file.Metadata["tokenizer.ggml.scores"];
        Assert.Equal(tokenizer.VocabSize, tokens.Length);
        Assert.Equal(2, types[0]); // <unk>
        Assert.Equal(3, types[1]); // <s>
        Assert.Equal("<0x0A>", tokens[3 + 0x0A]);
        Assert.Equal(6, types[3 + 0x0A]); // byte
        Assert.Equal(4, types[tokenizer.TokenToId("<|user|>")]); // added, not special
        // A merged piece scores minus the rank of the first merge making it (higher scores merge first in llama.cpp).
        var firstRank = new Dictionary<string, int>();
        for (int rank = 0; rank < tokenizer.Merges.Count; rank++) firstRank.TryAdd(tokenizer.Merges[rank].Left + tokenizer.Merges[rank].Right, rank);
        foreach (var (piece, rank) in firstRank.Take(200)) Assert.Equal(-(float)rank, scores[tokenizer.TokenToId(piece)]);
        Assert.Equal(0f, scores[3 + 0x41]); // a byte token
        Assert.Equal(1u, file.Metadata["tokenizer.ggml.bos_token_id"]);
        Assert.Equal(true, file.Metadata["tokenizer.ggml.add_bos_token"]);
        Assert.Equal(true, file.Metadata["tokenizer.ggml.add_space_prefix"]);
    }

    [Fact]
    public void Qwen2FileKeepsRowsInOrderCarriesBiasesAndTiesTheHead()
    {
        using var temp = new TempDirectory();
        var tokenizer = BpeTokenizer.FromFolder(Fixtures.Path("tokenizers", "qwen2"));
        string directory = Folder(temp, "qwen2", tokenizer);
        var file = new GgufReader(GgufExporter.Export(directory, temp.Sub("out.gguf"), GgufOutType.F16).Path);
        using var loaded = ModelFolder.Load(directory);
        var model = (LlamaModel)loaded.Model;

        Assert.Equal("qwen2", file.Metadata["general.architecture"]);
        Assert.Equal(2u, file.Metadata["qwen2.attention.head_count_kv"]);
        var names = file.Tensors.Select(t => t.Name).ToHashSet();
        Assert.DoesNotContain("output.weight", names);
        Assert.DoesNotContain("rope_freqs.weight", names);
        Assert.DoesNotContain("blk.0.attn_output.bias", names);
        var bias = file.Tensors.Single(t => t.Name == "blk.1.attn_k.bias");
        Assert.Equal(0u, bias.Type); // 1-D: fp32
        Assert.Equal(model.Parameters["model.layers.1.self_attn.k_proj.bias"].Value.ToArray(), file.Float32s(bias)); // NEOX rotary: not permuted
        Assert.Equal(1u, file.Tensors.Single(t => t.Name == "blk.1.attn_k.weight").Type);
        Assert.Equal("gpt2", file.Metadata["tokenizer.ggml.model"]);
        Assert.Equal("qwen2", file.Metadata["tokenizer.ggml.pre"]);
        Assert.Equal(false, file.Metadata["tokenizer.ggml.add_bos_token"]);
    }

    [Theory]
    [InlineData("smollm2", "smollm")]
    [InlineData("llama3", "llama-bpe")]
    public void ByteLevelPreTokenizersGetLlamaCppsNames(string fixture, string pre)
    {
        using var temp = new TempDirectory();
        var file = new GgufReader(GgufExporter.Export(Folder(temp, "llama", BpeTokenizer.FromFolder(Fixtures.Path("tokenizers", fixture))),
            temp.Sub("out.gguf"), GgufOutType.F32).Path);
        Assert.Equal(pre, file.Metadata["tokenizer.ggml.pre"]);
        Assert.Equal(fixture == "llama3", file.Metadata["tokenizer.ggml.add_bos_token"]);
    }

    [Fact]
    public void MistralBecomesLlamaCppsLlamaArchitecture()
    {
        // llama.cpp's converter maps MistralForCausalLM (without sliding window) to the llama architecture.
        using var temp = new TempDirectory();
        var file = new GgufReader(GgufExporter.Export(Folder(temp, "mistral", BpeTokenizer.FromFolder(Fixtures.Path("tokenizers", "tinyllama"))),
            temp.Sub("out.gguf"), GgufOutType.F32).Path);
        Assert.Equal("llama", file.Metadata["general.architecture"]);
        Assert.Equal(2u, file.Metadata["llama.attention.head_count_kv"]);
        Assert.Contains(file.Tensors, t => t.Name == "blk.1.ffn_down.weight");
    }

    [Fact]
    public void APreTokenizerLlamaCppLacksIsRefusedNamingItAndNothingIsWritten()
    {
        using var temp = new TempDirectory();
        // SmolLM2's tokenizer with whole numbers instead of single digits: no llama.cpp pre-tokenizer splits like that.
        string tokenizerFolder = temp.Sub("tokenizer");
        Directory.CreateDirectory(tokenizerFolder);
        var json = JsonNode.Parse(File.ReadAllText(Fixtures.Path("tokenizers", "smollm2", "tokenizer.json")))!.AsObject();
        json["pre_tokenizer"]!["pretokenizers"]![0]!["individual_digits"] = false;
        File.WriteAllText(Path.Combine(tokenizerFolder, "tokenizer.json"), json.ToJsonString());
        File.Copy(Fixtures.Path("tokenizers", "smollm2", "tokenizer_config.json"), Path.Combine(tokenizerFolder, "tokenizer_config.json"));
        string directory = Folder(temp, "llama", BpeTokenizer.FromFolder(tokenizerFolder));
        string output = temp.Sub("out.gguf");

        var error = Assert.Throws<ArgumentException>(() => GgufExporter.Export(directory, output, GgufOutType.F32));
        Assert.Contains("has no llama.cpp pre-tokenizer", error.Message);
        Assert.Contains("Digits", error.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(temp.Path));
    }
}
