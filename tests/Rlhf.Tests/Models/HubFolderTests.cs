// A folder laid out as the Hub's "gpt2" (unprefixed tensor names, attention-mask buffers, vocab.json +
// merges.txt, the Hub's config.json keys) loads as it is, and round-trips through our own save.
using System.Text.Json.Nodes;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Models;

public class HubFolderTests
{
    private const string HubConfig = """
    {
      "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 50256,
      "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
      "n_ctx": 16, "n_embd": 8, "n_head": 2, "n_layer": 1, "n_positions": 16, "resid_pdrop": 0.1, "summary_activation": null,
      "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index", "summary_use_proj": true,
      "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}, "vocab_size": 50257
    }
    """;

    [Fact]
    public void AHubStyleGpt2FolderLoadsAndRoundTrips()
    {
        using var dir = new TempDirectory();
        string hub = dir.Sub("gpt2");
        Directory.CreateDirectory(hub);
        File.WriteAllText(Path.Combine(hub, "config.json"), HubConfig);
        File.WriteAllText(Path.Combine(hub, "tokenizer_config.json"), """{"model_max_length": 1024}""");
        File.WriteAllText(Path.Combine(hub, "generation_config.json"), """{"_from_model_config": true, "bos_token_id": 50256, "eos_token_id": 50256, "transformers_version": "4.26.0.dev0"}""");
        File.Copy(Fixtures.Path("gpt2_vocab", "vocab.json"), Path.Combine(hub, "vocab.json"));
        File.Copy(Fixtures.Path("gpt2_vocab", "merges.txt"), Path.Combine(hub, "merges.txt"));

        // Weights as the Hub stores them: no "transformer." prefix, plus the causal-mask buffers.
        var config = Gpt2Config.Load(Path.Combine(hub, "config.json"));
        using var source = Gpt2Model.CreateRandom(config, seed: 8);
        var tensors = source.Parameters.Parameters.Select(p => (p.Name["transformer.".Length..], p.Value)).ToList();
        tensors.Add(("h.0.attn.bias", Tensor.Zeros(1, 1, 16, 16)));
        SafeTensors.Write(Path.Combine(hub, "model.safetensors"), tensors);

        using var folder = ModelFolder.Load(hub);
        Assert.Equal(50256, folder.EosTokenId);
        Assert.Equal(50256, folder.PadTokenId); // no pad token: EOS pads, as GPT-2 users set it
        Assert.Equal([15496, 995], folder.Tokenizer.Encode("Hello world"));
        Assert.Equal(source.Parameters["transformer.h.0.mlp.c_fc.weight"].Value.ToArray(), folder.Model.Parameters["transformer.h.0.mlp.c_fc.weight"].Value.ToArray());
        var before = Generator.Generate(folder.Model, [folder.Tokenizer.Encode("Hello world")], new GenerationOptions { MaxNewTokens = 4, EosTokenId = -1 })[0];

        string ours = dir.Sub("ours");
        folder.Save(ours);
        foreach (var file in new[] { "config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(ours, file)), file);
        var savedConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(ours, "config.json")))!;
        Assert.Equal("gpt2", savedConfig["model_type"]!.GetValue<string>());
        using var reloaded = ModelFolder.Load(ours);
        var after = Generator.Generate(reloaded.Model, [reloaded.Tokenizer.Encode("Hello world")], new GenerationOptions { MaxNewTokens = 4, EosTokenId = -1 })[0];
        Assert.Equal(before.Ids, after.Ids);
        Assert.Equal(folder.Tokenizer.Encode("naïve café 👍 <|endoftext|>"), reloaded.Tokenizer.Encode("naïve café 👍 <|endoftext|>"));
    }

    [Fact]
    public void ATokenizerLargerThanTheModelVocabularyIsRejected()
    {
        using var dir = new TempDirectory();
        var tokenizer = BpeTokenizer.FromFiles(Fixtures.Path("gpt2_vocab", "vocab.json"), Fixtures.Path("gpt2_vocab", "merges.txt"));
        using var model = Gpt2Model.CreateRandom(new Gpt2Config { VocabSize = 100, ContextLength = 8, EmbeddingSize = 8, LayerCount = 1, HeadCount = 2, BosTokenId = 0, EosTokenId = 0 }, 1);
        var error = Assert.Throws<ArgumentException>(() => new ModelFolder(model, tokenizer));
        Assert.Contains("50257", error.Message);
    }
}
