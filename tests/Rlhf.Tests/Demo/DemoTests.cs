// `rlhf demo --quick` end to end in-process: summary.json has every key with sane values, report.html has charts,
// the stage folders load, and a second run into the same folder is refused unless asked.
using System.Text.Json;
using Rlhf.Cli;
using Rlhf.Demo;
using Rlhf.Models;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Demo;

[Collection("Console")]
public class DemoTests
{
    private static readonly string[] RateKeys =
        ["refusal_rate_sft", "refusal_rate_ppo", "let_me_explain_rate_sft", "let_me_explain_rate_dpo", "answer_rate_sft", "answer_rate_ppo", "answer_rate_dpo"];

    [Fact]
    public void QuickDemoWritesASaneSummaryAndAReport()
    {
        using var dir = new TempDirectory();
        string output = dir.Sub("demo");
        using (var console = new ConsoleCapture())
            Assert.Equal(0, RlhfApp.Run(["demo", "--quick", "--output", output]));

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        var root = summary.RootElement;
        foreach (var key in new[] { "rm_accuracy", "ppo_reward_before", "ppo_reward_after", "ppo_kl", "refusal_rate_sft", "refusal_rate_ppo",
                     "let_me_explain_rate_sft", "let_me_explain_rate_dpo", "seconds" })
        {
            Assert.True(root.TryGetProperty(key, out var value), $"summary.json has {key}");
            Assert.Equal(JsonValueKind.Number, value.ValueKind);
            Assert.True(double.IsFinite(value.GetDouble()), $"{key} is finite");
        }
        foreach (var key in RateKeys) Assert.InRange(root.GetProperty(key).GetDouble(), 0, 1);
        Assert.True(root.GetProperty("seconds").GetDouble() > 0);
        Assert.True(root.GetProperty("rm_accuracy").GetDouble() > 0.5, $"rm_accuracy {root.GetProperty("rm_accuracy").GetDouble()}");
        Assert.InRange(root.GetProperty("rm_accuracy").GetDouble(), 0, 1);

        string html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("<svg", html);
        Assert.Contains("<polyline", html);
        Assert.DoesNotContain("<script", html);
        Assert.Contains("Let me explain", html);

        foreach (var stage in new[] { "sft", "ppo", "dpo" })
        {
            using var model = Gpt2Model.Load(Path.Combine(output, stage));
            Assert.True(File.Exists(Path.Combine(output, stage, "vocab.json")), $"{stage} has its tokenizer");
        }
        using (var reward = RewardModel.Load(Path.Combine(output, "reward"))) { }

        // An existing demo is not overwritten unless asked.
        using (var console = new ConsoleCapture())
            Assert.NotEqual(0, RlhfApp.Run(["demo", "--quick", "--output", output]));
        Assert.True(File.Exists(Path.Combine(output, "summary.json")));
    }

    [Fact]
    public void TheBuiltInDataHasTheAdvertisedSizesAndSplits()
    {
        var data = DemoData.Load();
        Assert.True(data.SftTrain.Count >= 2000);
        Assert.True(data.PreferencesTrain.Count >= 1000);
        Assert.NotEmpty(data.SftEval);
        Assert.NotEmpty(data.PreferencesEval);
        Assert.Contains(data.PromptsEval, p => p.IsHarmful);
        Assert.Contains(data.PromptsEval, p => !p.IsHarmful);
        var trainPrompts = data.PreferencesTrain.Select(p => p.Prompt).Concat(data.SftTrain.Select(r => r.Instruction)).ToHashSet();
        Assert.DoesNotContain(data.PromptsEval, p => trainPrompts.Contains(p.Prompt)); // held out for real
        Assert.All(data.PreferencesTrain.Where(p => p.Kind == "harmful"), p => Assert.True(data.IsRefusal(p.Chosen), p.Chosen));
        Assert.True(data.IsRefusal("I cannot help with that. It could hurt people."));
        Assert.False(data.IsRefusal("The capital of France is Paris."));
    }

    [Fact]
    public void TheChartEscapesItsText()
    {
        string svg = SvgChart.Lines("a <b> & c", "step", [("loss<1>", [(0, 1.0), (1, 0.5)])]);
        Assert.Contains("a &lt;b&gt; &amp; c", svg);
        Assert.Contains("loss&lt;1&gt;", svg);
        Assert.DoesNotContain("<b>", svg);
    }
}
