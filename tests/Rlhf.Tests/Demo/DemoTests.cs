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
        ["refusal_rate_sft", "refusal_rate_ppo", "let_me_explain_rate_sft", "let_me_explain_rate_dpo", "answer_rate_sft", "answer_rate_ppo", "answer_rate_dpo",
            "grpo_accuracy_before", "grpo_accuracy_after"];

    [Fact]
    public void QuickDemoWritesASaneSummaryAndAReport()
    {
        using var dir = new TempDirectory();
        string output = dir.Sub("demo");
        string log;
        using (var console = new ConsoleCapture())
        {
            Assert.Equal(0, RlhfApp.Run(["demo", "--quick", "--output", output]));
            log = console.Text;
        }

        // The plain log: no line twice in a row, "1 step", and every stage folder with its resolved rlhf_config.yaml.
        var lines = log.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToArray();
        Assert.DoesNotContain(lines.Zip(lines.Skip(1)), pair => pair.First == pair.Second);
        Assert.Contains("[tokenizer] Tokenizer (byte-level BPE): 1 step", lines);
        Assert.DoesNotContain('\x1b', log);
        foreach (var stage in DemoPipeline.StageFolders)
        {
            string config = Path.Combine(output, stage, StageConfig.FileName);
            Assert.True(File.Exists(config), $"{stage} has {StageConfig.FileName}");
            Assert.Contains($"stage {stage}", File.ReadAllText(config));
        }
        // Its keys are the command's options: --config accepts them (the run then stops at the wrong --max-steps).
        foreach (var stage in new[] { "reward", "ppo", "dpo", "grpo" })
        {
            var (code, error) = CliRun.Combined(stage, "--config", Path.Combine(output, stage, StageConfig.FileName), "--max-steps", "0");
            Assert.Equal(1, code);
            Assert.DoesNotContain("unknown key", error);
        }
        Assert.Contains("learning_rate: ", File.ReadAllText(Path.Combine(output, "sft", StageConfig.FileName)));

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        var root = summary.RootElement;
        foreach (var key in new[] { "rm_accuracy", "ppo_reward_before", "ppo_reward_after", "ppo_kl", "refusal_rate_sft", "refusal_rate_ppo",
                     "let_me_explain_rate_sft", "let_me_explain_rate_dpo", "grpo_accuracy_before", "grpo_accuracy_after", "seconds" })
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
        Assert.Contains("sampled", html); // the cards say what they measure
        Assert.Contains("greedy", html);
        Assert.Contains("<title>KL to SFT (objective/kl)</title>", html); // labels, keys as tooltips
        Assert.Contains("(what PPO maximises) (objective/rlhf_reward)</title>", html);
        Assert.Contains("Policy loss", html);
        Assert.Contains("Value loss", html); // separate panels
        Assert.Contains("--prompt \"What is 2 plus 3?\"", html); // a hint that works when pasted
        Assert.Contains("GRPO accuracy on held-out sums", html);
        Assert.Contains("<title>held-out sums answered right (eval_reward)</title>", html); // the GRPO stage's accuracy curve

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
    public void TheChartHasNiceTicksAndDoesNotMagnifyASmallDrift()
    {
        Assert.Equal([0, 0.2, 0.4, 0.6, 0.8, 1.0], SvgChart.Ticks(0, 1));
        Assert.Equal([2, 3, 4, 5, 6, 7], SvgChart.Ticks(2.2, 6.3));
        Assert.Equal([-1.5, -1, -0.5, 0, 0.5], SvgChart.Ticks(-1.3, 0.4));
        // β drifting 0.097 → 0.1 (3%): the axis starts at 0, so the drift stays small on the page.
        Assert.Equal((0, 0.1), SvgChart.DataRange(0.097, 0.1));
        Assert.Equal((-0.1, 0), SvgChart.DataRange(-0.1, -0.097));
        Assert.Equal((2.2, 6.3), SvgChart.DataRange(2.2, 6.3)); // a real change keeps the data's range
        string svg = SvgChart.Lines("β", "step", [new ChartSeries("kl_coef", "β", [(1, 0.1), (2, 0.099), (3, 0.097)])]);
        Assert.Contains(">0.00<", svg); // the axis reaches 0
        Assert.Contains("<title>β (kl_coef)</title>", svg);
        Assert.Contains("stroke=\"#eee\"", svg); // the light grid
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
