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

    /// <summary>Plain ChatML: each message as &lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n, then the assistant header.</summary>
    public const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>Sets tokenizer_config.json's chat_template in <paramref name="folder"/> (the file's other keys kept).</summary>
    public static string WithChatTemplate(string folder, string template)
    {
        string configPath = Path.Combine(folder, ChatTemplate.ConfigFileName);
        var config = File.Exists(configPath) ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject() : [];
        config["chat_template"] = template;
        File.WriteAllText(configPath, config.ToJsonString());
        return folder;
    }

    /// <summary>A chat template of tests/fixtures/chat_templates/templates.json (the models' own, as they ship).</summary>
    public static string FixtureChatTemplate(string name)
    {
        using var templates = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat_templates", "templates.json")));
        return templates.RootElement.GetProperty(name).GetProperty("template").GetString()!;
    }

    /// <summary>A reward-model folder (random score head, last-token pooling) on <paramref name="causalLm"/> with its tokenizer.</summary>
    public static string CreateRewardModel(string directory, string causalLm, ulong seed = 1)
    {
        using (var reward = RewardModel.FromCausalLm(causalLm, RewardPooling.LastToken, seed)) reward.Save(directory);
        BpeTokenizer.FromFolder(causalLm).Save(directory);
        return directory;
    }
}
