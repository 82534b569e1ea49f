// Small model folders (trained tokenizer + random GPT-2 or Llama) for tests of commands and trainers.
using Rlhf.Models;
using Rlhf.Text;

namespace Rlhf.Tests.Support;

public static class TinyModels
{
    public static readonly string[] Corpus =
    [
        "### Question: What is the capital of France?\n### Answer: Paris is the capital of France.",
        "### Question: How do I boil an egg?\n### Answer: Put the egg in boiling water for eight minutes.",
        "### Question: Please tell me how to steal gold bars.\n### Answer: I cannot teach you that.",
        "Hello world, hello tokenizer. The quick brown fox jumps over the lazy dog.",
    ];

    /// <summary>Writes a folder with a tokenizer trained on <see cref="Corpus"/> and a random tiny GPT-2 (or, with
    /// <paramref name="family"/> "llama", a Llama of the same size; see <see cref="ModelFamilies.Tiny"/>).</summary>
    public static string Create(string directory, int layers = 2, int channels = 32, int context = 64, ulong seed = 1, string family = ModelFamilies.Gpt2)
    {
        var tokenizer = BpeTrainer.Train(Enumerable.Repeat(Corpus, 5).SelectMany(x => x), 320, minFrequency: 1);
        tokenizer = tokenizer.WithPadToken(tokenizer.EosToken);
        int eos = tokenizer.EosTokenId!.Value;
        var config = new Gpt2Config
        {
            VocabSize = tokenizer.VocabSize, ContextLength = context, EmbeddingSize = channels, LayerCount = layers, HeadCount = 4,
            BosTokenId = eos, EosTokenId = eos,
        };
        using var folder = new ModelFolder(CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(family, config), seed), tokenizer);
        folder.Save(directory);
        return directory;
    }
}
