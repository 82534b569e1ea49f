// Random tiny GPT-2 folders for the GGUF tests, their exports, and our own logits and "dequantized" twins.
using System.Text.Json.Nodes;
using Rlhf.Export;
using Rlhf.Models;
using Rlhf.Models.Gpt2;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Rlhf.Training;

namespace Rlhf.GgufTests;

internal static class GgufModels
{
    public const string ChatTemplate = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}";

    public static readonly string[] Corpus =
    [
        "### Question: What is the capital of France?\n### Answer: Paris is the capital of France.",
        "### Question: How do I boil an egg?\n### Answer: Put the egg in boiling water for eight minutes.",
        "Hello world, hello tokenizer. The quick brown fox jumps over the lazy dog 42 times; it's 3.14!",
    ];

    /// <summary>
    /// A folder with a BPE tokenizer trained on <see cref="Corpus"/> (specials: end of text and two chat markers),
    /// an embedding padded 5 rows past the vocabulary, a chat template, and a GPT-2 whose every parameter (biases and
    /// LayerNorms included) is random, with logits spread enough (σ 0.3) that greedy choices are clear.
    /// </summary>
    public static string TrainedFolder(string directory, int layers = 2, int channels = 32, int context = 64)
    {
        var tokenizer = BpeTrainer.Train(Enumerable.Repeat(Corpus, 5).SelectMany(x => x), 320,
            [BpeTokenizer.EndOfText, "<|im_start|>", "<|im_end|>"], minFrequency: 1);
        int eos = tokenizer.EosTokenId!.Value;
        var config = new Gpt2Config
        {
            VocabSize = tokenizer.VocabSize + 5, ContextLength = context, EmbeddingSize = channels, LayerCount = layers, HeadCount = 4,
            BosTokenId = eos, EosTokenId = eos,
        };
        SaveRandom(directory, config, tokenizer, seed: 3);
        var configPath = System.IO.Path.Combine(directory, "tokenizer_config.json");
        var json = JsonNode.Parse(File.ReadAllText(configPath))!;
        json["chat_template"] = ChatTemplate;
        File.WriteAllText(configPath, json.ToJsonString());
        return directory;
    }

    /// <summary>A <see cref="TrainedFolder"/> in <paramref name="temp"/> exported as model.gguf, and the folder loaded.</summary>
    public static (ModelFolder Folder, string Gguf) Exported(TempDirectory temp, GgufOutType outType, bool zeroMlpInput = false)
    {
        string directory = TrainedFolder(temp.Sub("model"));
        if (zeroMlpInput) ZeroMlpInput(directory);
        string gguf = temp.Sub("model.gguf");
        GgufExporter.Export(directory, gguf, outType);
        return (ModelFolder.Load(directory), gguf);
    }

    /// <summary>GPT-2's real vocabulary and merges (the fixture) on a one-layer random model: for tokenization.</summary>
    public static string Gpt2VocabularyFolder(string directory)
    {
        string fixtures = System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2_vocab");
        var tokenizer = BpeTokenizer.FromFiles(System.IO.Path.Combine(fixtures, "vocab.json"), System.IO.Path.Combine(fixtures, "merges.txt"));
        var config = new Gpt2Config { VocabSize = tokenizer.VocabSize, ContextLength = 32, EmbeddingSize = 8, LayerCount = 1, HeadCount = 2 };
        SaveRandom(directory, config, tokenizer, seed: 4);
        return directory;
    }

    private static void SaveRandom(string directory, Gpt2Config config, BpeTokenizer tokenizer, ulong seed)
    {
        var model = Gpt2Model.CreateRandom(config, seed);
        var rng = new Rng(seed + 100);
        foreach (var parameter in model.Parameters.Parameters)
        {
            var values = parameter.Value.Span;
            bool norm = parameter.Name.Contains(".ln_", StringComparison.Ordinal);
            rng.FillNormal(values, 0, parameter.Name.EndsWith(".bias", StringComparison.Ordinal) || norm ? 0.1 : 0.3);
            if (norm && parameter.Name.EndsWith(".weight", StringComparison.Ordinal)) for (int i = 0; i < values.Length; i++) values[i] += 1;
        }
        using var folder = new ModelFolder(model, tokenizer);
        folder.Save(directory);
    }

    /// <summary>Zeroes every block's c_fc (weight and bias), so GELU only ever sees 0.</summary>
    public static void ZeroMlpInput(string directory)
    {
        using var folder = ModelFolder.Load(directory);
        foreach (var parameter in folder.Model.Parameters.Parameters)
            if (parameter.Name.Contains(".mlp.c_fc.", StringComparison.Ordinal)) parameter.Value.Span.Clear();
        folder.Save(directory);
    }

    /// <summary>Our logits at every position of <paramref name="ids"/> (one sequence, no cache): [T][V].</summary>
    public static float[][] Logits(ICausalLm model, int[] ids)
    {
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        var embedding = model.LmHeadWeight(ops, trainable: false);
        var hidden = model.Forward(ops, ids, [.. Enumerable.Range(0, ids.Length)], null, 1, ids.Length, trainable: false);
        int c = model.Config.HiddenSize, v = model.Config.VocabSize;
        var h = hidden.Value.ToArray();
        var w = embedding.Value.ToArray();
        var logits = new float[ids.Length][];
        for (int t = 0; t < ids.Length; t++)
        {
            logits[t] = new float[v];
            for (int token = 0; token < v; token++)
            {
                double sum = 0;
                for (int k = 0; k < c; k++) sum += (double)h[t * c + k] * w[token * c + k];
                logits[t][token] = (float)sum;
            }
        }
        return logits;
    }

    /// <summary>
    /// Rewrites the model's matrices as a runtime reading an <paramref name="outType"/> file sees them: each row of
    /// ggml's layout (a Conv1D weight's column; an embedding row) rounded to f16/bf16 or q8_0-quantized and read back.
    /// Position embeddings, norms and biases stay fp32, as in the file.
    /// </summary>
    public static void Dequantize(ICausalLm model, GgufOutType outType)
    {
        foreach (var parameter in model.Parameters.Parameters)
        {
            var shape = parameter.Value.Shape;
            if (shape.Length != 2 || parameter.Name.EndsWith("wpe.weight", StringComparison.Ordinal)) continue;
            bool conv1D = !parameter.Name.EndsWith("wte.weight", StringComparison.Ordinal);
            var values = parameter.Value.Span;
            int rows = shape[0], columns = shape[1];
            var ggml = new float[values.Length]; // ggml's row-major [out, in] for Conv1D weights
            for (int r = 0; r < rows; r++)
                for (int col = 0; col < columns; col++)
                    ggml[conv1D ? col * rows + r : r * columns + col] = values[r * columns + col];
            var type = GgufExporter.TensorType(new GgufSource(parameter.Name, conv1D ? [columns, rows] : [rows, columns], _ => { }), outType);
            var bytes = new byte[type.ByteCount(ggml.Length)];
            GgufWriter.Encode(bytes, ggml, type);
            Decode(ggml, bytes, type);
            for (int r = 0; r < rows; r++)
                for (int col = 0; col < columns; col++)
                    values[r * columns + col] = ggml[conv1D ? col * rows + r : r * columns + col];
        }
    }

    private static void Decode(float[] destination, byte[] source, GgufTensorType type)
    {
        for (int i = 0; i < destination.Length && type != GgufTensorType.Q8_0; i++)
        {
            destination[i] = type switch
            {
                GgufTensorType.F32 => BitConverter.ToSingle(source, 4 * i),
                GgufTensorType.F16 => (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(source, 2 * i)),
                _ => BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(source, 2 * i) << 16),
            };
        }
        if (type == GgufTensorType.Q8_0) Q8Zero.Dequantize(destination, source);
    }

    public static double MaxAbsDifference(float[][] a, float[][] b)
    {
        double max = 0;
        for (int t = 0; t < a.Length; t++)
            for (int v = 0; v < a[t].Length; v++) max = Math.Max(max, Math.Abs(a[t][v] - b[t][v]));
        return max;
    }
}
