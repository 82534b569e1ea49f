// Every trainer reads TRL's conversational rows through the model folder's chat template: sft (`messages`), reward and
// dpo (chosen/rejected message lists), ppo and grpo (prompts as message lists); without a template they are an error naming the row.
using System.Text.Json;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Cli;

[Collection("Console")]
public sealed class ConversationalTrainingTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly string model, plainModel, messages, pairs, prompts;

    public ConversationalTrainingTests()
    {
        plainModel = TinyModels.Create(dir.Sub("plain"), context: 256);
        // SmolLM2-Instruct's own template (it adds its default system prompt when a conversation has none).
        model = TinyModels.WithChatTemplate(TinyModels.Create(dir.Sub("model"), context: 512), TinyModels.FixtureChatTemplate("smollm2"));

        static string Msg(string role, string content) => JsonSerializer.Serialize(new { role, content });
        var questions = Enumerable.Range(0, 8).Select(i => $"What is {i} plus {i}?").ToArray();
        messages = dir.Sub("messages.jsonl");
        File.WriteAllLines(messages, questions.Select((q, i) => $"{{\"messages\":[{Msg("system", "Be brief.")},{Msg("user", q)},{Msg("assistant", $"It is {2 * i}.")}]}}"));
        pairs = dir.Sub("pairs.jsonl");
        File.WriteAllLines(pairs, questions.Select((q, i) =>
            $"{{\"chosen\":[{Msg("user", q)},{Msg("assistant", $"It is {2 * i}.")}],\"rejected\":[{Msg("user", q)},{Msg("assistant", "I do not know.")}]}}"));
        prompts = dir.Sub("prompts.jsonl");
        File.WriteAllLines(prompts, questions.Select(q => $"{{\"prompt\":[{Msg("user", q)}]}}"));
    }

    public void Dispose() => dir.Dispose();

    private static (int Code, string Output) Run(params string[] args) => CliRun.Combined(args);

    private static string[] Small(string command, string model, string data, string output) =>
        [command, "--model", model, "--dataset", data, "--output", output, "--max-steps", "1", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1"];

    [Fact]
    public void Sft_reward_dpo_and_ppo_train_on_conversations()
    {
        var (code, text) = Run(Small("sft", model, messages, dir.Sub("sft")));
        Assert.True(code == 0, text);
        Assert.Matches(@"length\s+8\b", text);

        (code, text) = Run(Small("reward", model, pairs, dir.Sub("rm")));
        Assert.True(code == 0, text);
        Assert.Matches(@"length\s+8\b", text);

        (code, text) = Run(Small("dpo", model, pairs, dir.Sub("dpo")));
        Assert.True(code == 0, text);

        (code, text) = Run([.. Small("ppo", model, prompts, dir.Sub("ppo")), "--reward-model", dir.Sub("rm"), "--mini-batch-size", "2",
            "--num-ppo-epochs", "1", "--max-new-tokens", "3"]);
        Assert.True(code == 0, text);
        Assert.Contains("8 prompts read, 8 kept", text);
    }

    [Fact]
    public void Conversations_need_the_models_chat_template()
    {
        foreach (var (command, data) in new[] { ("sft", messages), ("dpo", pairs), ("reward", pairs) })
        {
            var (code, text) = Run(Small(command, plainModel, data, dir.Sub("no-" + command)));
            Assert.NotEqual(0, code);
            string oneLine = string.Concat(text.Where(c => !char.IsWhiteSpace(c)));
            Assert.Contains(string.Concat($"{data}:1".Where(c => !char.IsWhiteSpace(c))), oneLine);
            Assert.Contains("nochattemplate", oneLine);
        }
        // --template flattens the messages into that template on purpose.
        var (ok, output) = Run([.. Small("sft", plainModel, messages, dir.Sub("flat")), "--template", "Q: {instruction}\\nA: "]);
        Assert.True(ok == 0, output);
    }
}
