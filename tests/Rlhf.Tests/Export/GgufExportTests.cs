// The GGUF file's layout (read back by an independent reader), llama.cpp's type rules, and refusals of bad input.
using Rlhf.Export;
using Rlhf.Models;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Export;

public sealed class GgufExportTests
{
    [Theory]
    [InlineData(nameof(GgufOutType.F32), 0u)]
    [InlineData(nameof(GgufOutType.F16), 1u)]
    [InlineData(nameof(GgufOutType.BF16), 30u)]
    [InlineData(nameof(GgufOutType.Q8_0), 8u)]
    public void FileHoldsLlamaCppsNamesTypesAndAlignedData(string outTypeName, uint matrixType)
    {
        var outType = Enum.Parse<GgufOutType>(outTypeName);
        using var temp = new TempDirectory();
        string folder = TinyModels.Create(temp.Sub("model"), layers: 2, channels: 32);
        var result = GgufExporter.Export(folder, temp.Sub("out.gguf"), outType);
        var file = new GgufReader(result.Path);
        using var model = Gpt2Model.Load(folder);
        var tokenizer = BpeTokenizer.FromFolder(folder);

        Assert.Equal(3u, file.Version);
        Assert.Equal("gpt2", file.Metadata["general.architecture"]);
        Assert.Equal(GgufExporter.FileType(outType), (uint)file.Metadata["general.file_type"]);
        Assert.Equal(2u, file.Metadata["gpt2.block_count"]);
        Assert.Equal(32u, file.Metadata["gpt2.embedding_length"]);
        Assert.Equal(128u, file.Metadata["gpt2.feed_forward_length"]);
        Assert.Equal(64u, file.Metadata["gpt2.context_length"]);
        Assert.Equal(4u, file.Metadata["gpt2.attention.head_count"]);
        Assert.Equal(1e-5f, file.Metadata["gpt2.attention.layer_norm_epsilon"]);
        Assert.Equal("gpt2", file.Metadata["tokenizer.ggml.model"]);
        Assert.Equal("gpt-2", file.Metadata["tokenizer.ggml.pre"]);
        var tokens = (object[])file.Metadata["tokenizer.ggml.tokens"];
        var types = (object[])file.Metadata["tokenizer.ggml.token_type"];
        Assert.Equal(model.Config.VocabSize, tokens.Length);
        Assert.Equal(tokenizer.IdToToken(100), tokens[100]);
        int eos = tokenizer.EosTokenId!.Value;
        Assert.Equal((uint)eos, file.Metadata["tokenizer.ggml.eos_token_id"]);
        Assert.Equal(3, types[eos]); // control
        Assert.Equal(1, types[0]); // normal
        Assert.Equal(tokenizer.Merges.Count, ((object[])file.Metadata["tokenizer.ggml.merges"]).Length);
        Assert.Equal(false, file.Metadata["tokenizer.ggml.add_bos_token"]);

        var names = file.Tensors.Select(t => t.Name).ToList();
        Assert.Equal(2 + 2 * 12 + 2, names.Count);
        Assert.Contains("blk.1.attn_qkv.weight", names);
        Assert.DoesNotContain("output.weight", names); // tied: llama.cpp reuses token_embd
        Assert.Equal(0, file.DataStart % 32);
        foreach (var tensor in file.Tensors)
        {
            Assert.Equal(0ul, tensor.Offset % 32);
            uint expected = tensor.Dimensions.Length == 1 || tensor.Name == "position_embd.weight" ? 0u : matrixType;
            Assert.True(expected == tensor.Type, $"{tensor.Name}: type {tensor.Type}, expected {expected}");
        }
        var qkv = file.Tensors.Single(t => t.Name == "blk.1.attn_qkv.weight");
        Assert.Equal([32ul, 96ul], qkv.Dimensions); // ne[0] = in: nn.Linear's [out, in] rows
        if (outType == GgufOutType.F32)
        {
            // Conv1D [in, out] transposed: row o of the GGUF tensor is column o of c_attn.
            var values = file.Float32s(qkv);
            var source = model.Parameters["transformer.h.1.attn.c_attn.weight"].Value.Span;
            for (int o = 0; o < 96; o += 7)
                for (int i = 0; i < 32; i += 5) Assert.Equal(source[i * 96 + o], values[o * 32 + i]);
            Assert.Equal(model.Parameters["transformer.ln_f.bias"].Value.ToArray(), file.Float32s(file.Tensors.Single(t => t.Name == "output_norm.bias")));
        }
        var last = file.Tensors.MaxBy(t => t.Offset)!;
        long lastBytes = ((GgufTensorType)last.Type).ByteCount(last.Dimensions.Aggregate(1L, (a, b) => a * (long)b));
        Assert.Equal(file.DataStart + (long)last.Offset + (lastBytes + 31) / 32 * 32, file.Bytes.Length);
        Assert.Single(Directory.GetFiles(temp.Path)); // no temp file left beside the output
    }

    [Fact]
    public void ChatTemplateAndAddedTokensAreExported()
    {
        using var temp = new TempDirectory();
        string folder = TinyModels.Create(temp.Sub("model"));
        File.WriteAllText(Path.Combine(folder, "chat_template.jinja"), "{{ messages[0]['content'] }}");
        var file = new GgufReader(GgufExporter.Export(folder, temp.Sub("out.gguf"), GgufOutType.F32).Path);
        Assert.Equal("{{ messages[0]['content'] }}", file.Metadata["tokenizer.chat_template"]);
    }

    [Fact]
    public void Q8ZeroScalesByMaxOver127AndRoundsHalfAwayFromZero()
    {
        var values = new float[64];
        values[0] = 127f; values[1] = 2.5f; values[2] = -2.5f; values[3] = -127f; values[4] = 0.49f; // block 0: d = 1
        var blocks = new byte[2 * Q8Zero.BlockBytes];
        Q8Zero.Quantize(blocks, values);
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)1f), BitConverter.ToUInt16(blocks, 0));
        Assert.Equal([127, 3, -3, -127, 0], blocks[2..7].Select(b => (int)(sbyte)b));
        Assert.All(blocks[Q8Zero.BlockBytes..], b => Assert.Equal(0, b)); // an all-zero block: d = 0, q = 0

        var random = new Random(5);
        var x = Enumerable.Range(0, 96).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        var copy = x.ToArray();
        Q8Zero.RoundTrip(copy);
        for (int b = 0; b < 3; b++)
        {
            float d = x.Skip(32 * b).Take(32).Max(Math.Abs) / 127f;
            for (int i = 32 * b; i < 32 * b + 32; i++) Assert.True(Math.Abs(copy[i] - x[i]) <= d * 0.502f, $"value {i}: {x[i]} → {copy[i]}");
        }
    }

    [Fact]
    public void Q8ZeroFallsBackToF16ForRowsThatAreNotWholeBlocks()
    {
        Assert.Equal(GgufTensorType.F16, GgufExporter.TensorType(new GgufSource("x", [4, 40], _ => { }), GgufOutType.Q8_0));
        Assert.Equal(GgufTensorType.Q8_0, GgufExporter.TensorType(new GgufSource("x", [40, 64], _ => { }), GgufOutType.Q8_0));
        Assert.Equal(GgufTensorType.F32, GgufExporter.TensorType(new GgufSource("x", [64], _ => { }), GgufOutType.BF16));
    }

    [Fact]
    public void FoldersGgufCannotExpressAreRefusedNamingWhatIsMissing()
    {
        using var temp = new TempDirectory();
        string output = temp.Sub("out.gguf");
        File.WriteAllText(output, "previous");

        string llama = Directory.CreateDirectory(temp.Sub("llama")).FullName;
        File.WriteAllText(Path.Combine(llama, "config.json"), """{"model_type": "mamba"}""");
        Assert.Contains("model_type 'mamba' has no GGUF export", Assert.Throws<ModelFormatException>(() => GgufExporter.Export(llama, output, GgufOutType.F32)).Message);

        string reward = TinyModels.Create(temp.Sub("reward"));
        string configPath = Path.Combine(reward, "config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("GPT2LMHeadModel", "GPT2ForSequenceClassification", StringComparison.Ordinal));
        Assert.Contains("reward model", Assert.Throws<ModelFormatException>(() => GgufExporter.Export(reward, output, GgufOutType.F32)).Message);

        string adapter = Directory.CreateDirectory(temp.Sub("adapter")).FullName;
        File.WriteAllText(Path.Combine(adapter, "adapter_config.json"), "{}");
        Assert.Contains("LoRA adapter", Assert.Throws<ModelFormatException>(() => GgufExporter.Export(adapter, output, GgufOutType.F32)).Message);

        string bare = temp.Sub("bare");
        using (var model = Gpt2Model.CreateRandom(new Gpt2Config { VocabSize = 300, ContextLength = 16, EmbeddingSize = 8, LayerCount = 1, HeadCount = 2, BosTokenId = 0, EosTokenId = 0 }, 1))
            model.Save(bare);
        Assert.Contains("has no tokenizer", Assert.Throws<ModelFormatException>(() => GgufExporter.Export(bare, output, GgufOutType.F32)).Message);

        Assert.Throws<IOException>(() => GgufExporter.Export(TinyModels.Create(temp.Sub("ok")), temp.Path, GgufOutType.F32));
        Assert.Equal("previous", File.ReadAllText(output));
        Assert.DoesNotContain(Directory.GetFiles(temp.Path), f => f.Contains(".tmp-", StringComparison.Ordinal));
    }
}

[Collection("Console")]
public sealed class ExportCommandTests
{
    [Fact]
    public void ExportGgufWritesTheFileAndRejectsAnUnknownOutType()
    {
        using var temp = new TempDirectory();
        string folder = TinyModels.Create(temp.Sub("model"));
        var (code, output) = CliRun.Combined("export", "gguf", "--model", folder, "--output", temp.Sub("m.gguf"), "--outtype", "q8_0");
        Assert.True(code == 0, output);
        Assert.Equal("gpt2", new GgufReader(temp.Sub("m.gguf")).Metadata["general.architecture"]);

        (code, output) = CliRun.Combined("export", "gguf", "--model", folder, "--output", temp.Sub("n.gguf"), "--outtype", "q4_k");
        Assert.Equal(1, code);
        Assert.Contains("--outtype 'q4_k' is not one of f32, f16, bf16, q8_0", Unwrapped(output));
        Assert.False(File.Exists(temp.Sub("n.gguf")));
    }

    /// <summary>The text with line breaks (a console may wrap long lines) read as spaces.</summary>
    private static string Unwrapped(string text) => string.Join(' ', text.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));
}
