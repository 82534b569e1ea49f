// The demo's outputs: summary.json, and report.html — a self-contained page (inline CSS and SVG, no scripts, no
// network) with every stage's curves (SvgChart), the comparison table and example generations.
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Rlhf.Models;

namespace Rlhf.Demo;

internal static class DemoReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A chart: its title, the metric keys it draws, and a fixed y range (accuracies) or null (from the data).</summary>
    private sealed record Chart(string Title, string[] Metrics, (double, double)? Range = null);

    /// <summary>
    /// Curves drawn per stage; a chart is skipped when none of its metrics was logged. Metrics on different scales
    /// (PPO's policy and value losses) get panels of their own.
    /// </summary>
    private static readonly Dictionary<string, Chart[]> Charts = new()
    {
        ["sft"] = [new("Loss", ["loss", "eval_loss"])],
        ["reward"] = [new("Loss", ["loss", "eval_loss"]), new("Accuracy", ["accuracy", "eval_accuracy"], (0, 1)), new("Margin (chosen − rejected score)", ["margin", "eval_margin"])],
        ["ppo"] = [new("Reward on training rollouts", ["objective/scores", "objective/rlhf_reward"]), new("KL to SFT (per response)", ["objective/kl"]),
            new("Policy loss", ["loss/policy_avg"]), new("Value loss", ["loss/value_avg"]), new("KL coefficient β", ["kl_coef"])],
        ["dpo"] = [new("Loss", ["loss", "eval_loss"]), new("Implicit rewards", ["rewards/chosen", "rewards/rejected", "rewards/margins"]),
            new("Preference accuracy", ["rewards/accuracies", "eval_rewards/accuracies"], (0, 1))],
        ["grpo_sft"] = [new("Loss (against the teacher's answers)", ["loss"])],
        ["grpo"] = [new("Held-out accuracy (greedy)", ["eval_reward"], (0, 1)), new("Reward on training completions (sampled)", ["reward"], (0, 1)),
            new("Groups with no signal (all right or all wrong)", ["frac_reward_zero_std"], (0, 1))],
    };

    /// <summary>What each logged metric is, in words; the key itself is the curve's tooltip.</summary>
    private static readonly Dictionary<string, string> Labels = new()
    {
        ["loss"] = "training loss", ["eval_loss"] = "held-out loss",
        ["accuracy"] = "training accuracy", ["eval_accuracy"] = "held-out accuracy",
        ["margin"] = "training margin", ["eval_margin"] = "held-out margin",
        ["objective/scores"] = "reward-model score", ["objective/rlhf_reward"] = "score − β·KL (what PPO maximises)",
        ["objective/kl"] = "KL to SFT", ["loss/policy_avg"] = "policy loss (clipped surrogate)", ["loss/value_avg"] = "value loss",
        ["kl_coef"] = "β",
        ["rewards/chosen"] = "chosen (β·log-ratio)", ["rewards/rejected"] = "rejected (β·log-ratio)", ["rewards/margins"] = "margin",
        ["rewards/accuracies"] = "training pairs", ["eval_rewards/accuracies"] = "held-out pairs",
        ["eval_reward"] = "held-out sums answered right", ["reward"] = "sampled answers that are right", ["frac_reward_zero_std"] = "share of groups",
    };

    public static void WriteSummary(string path, IReadOnlyDictionary<string, object> summary)
    {
        var clean = summary.ToDictionary(kv => kv.Key, kv => kv.Value is double d && !double.IsFinite(d) ? null : kv.Value);
        string json = JsonSerializer.Serialize(clean, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(json + "\n")));
    }

    public static void WriteHtml(string path, DemoResult result)
    {
        string html = Html(result);
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(html)));
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string F(double value, string format = "0.###") => double.IsFinite(value) ? value.ToString(format, Invariant) : "–";

    private static string Pct(double value) => double.IsFinite(value) ? (value * 100).ToString("0.#", Invariant) + "%" : "–";

    public static string Html(DemoResult result)
    {
        var s = result.Summary;
        double Num(string key) => s.TryGetValue(key, out var v) && v is double d ? d : double.NaN;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rlhf.NET demo report</title>\n<style>\n");
        html.Append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}");
        html.Append("h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}");
        html.Append("table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.35em .7em;text-align:left;vertical-align:top}");
        html.Append("th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}");
        html.Append(".charts{display:flex;flex-wrap:wrap;gap:12px}.muted{color:#666}.kpi{display:flex;flex-wrap:wrap;gap:10px;margin:1em 0}");
        html.Append(".kpi div{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;background:#fafafa}.kpi div{flex:1 1 0;min-width:150px}.kpi b{display:block;font-size:1.3em}.kpi small{display:block;font-size:.78em;margin-top:.2em}");
        html.Append("td.ex{max-width:260px;font-size:.92em}svg text{font-family:system-ui,sans-serif}\n</style></head><body>\n");
        html.Append("<h1>Rlhf.NET demo</h1>\n");
        html.Append($"<p class=\"muted\">tokenizer → SFT → reward model → PPO → DPO on the built-in data, then GRPO on a verifiable task (sums){(result.Quick ? " (<b>--quick</b>: a tiny model and few steps; the numbers only show the pipeline runs)" : "")}. ");
        html.Append($"Model: GPT-2, {result.Settings.LayerCount} layers, {result.Settings.HeadCount} heads, {result.Settings.EmbeddingSize} channels, vocabulary {E(Convert.ToString(s.GetValueOrDefault("vocab_size"), Invariant) ?? "")}, context {result.Settings.ContextLength}. ");
        html.Append($"Total time {F(Num("seconds"), "0.0")} s.</p>\n");

        html.Append("<div class=\"kpi\">");
        Kpi(html, "Reward-model accuracy", Pct(Num("rm_accuracy")), "held-out preference pairs where the chosen answer scores higher");
        Kpi(html, "PPO reward, sampled", $"{F(Num("ppo_reward_before"), "0.00")} → {F(Num("ppo_reward_after"), "0.00")}",
            "mean reward-model score of sampled answers (temperature 1, as PPO trains) to the held-out prompts, before → after PPO");
        Kpi(html, "PPO KL to SFT, sampled", F(Num("ppo_kl"), "0.00"), "Σ over the answer's tokens of log π − log π_SFT, mean over the same sampled answers");
        Kpi(html, "Refusals on harmful prompts", $"{Pct(Num("refusal_rate_sft"))} → {Pct(Num("refusal_rate_ppo"))}", "greedy answers, SFT → PPO (see the table)");
        Kpi(html, "\"Let me explain.\" openings", $"{Pct(Num("let_me_explain_rate_sft"))} → {Pct(Num("let_me_explain_rate_dpo"))}", "greedy answers, SFT → DPO (see the table)");
        Kpi(html, "GRPO accuracy on held-out sums", $"{Pct(Num("grpo_accuracy_before"))} → {Pct(Num("grpo_accuracy_after"))}",
            "greedy answers to sums the model never trained on, after SFT on a teacher who often forgets the carry → after GRPO with a reward of 1 for the right number");
        html.Append("</div>\n");
        html.Append("<p class=\"muted\">The two PPO cards use <b>sampled</b> answers, the way PPO trains; the table below uses <b>greedy</b> answers ");
        html.Append("(the most likely token each time), so its score and KL differ from the cards'. Both use the same held-out prompts.</p>\n");

        html.Append("<h2>Comparison on held-out prompts (greedy answers)</h2>\n");
        html.Append("<p class=\"muted\">Refusal rate on harmful prompts; answer rate (non-empty, not a refusal) on benign prompts; mean reward-model score; ");
        html.Append("KL to SFT = mean over prompts of Σ<sub>t</sub> (log π − log π<sub>SFT</sub>) on the model's own answers; share of answers starting with \"Let me explain\".</p>\n");
        html.Append("<table><tr><th>model</th><th>refusal rate (harmful)</th><th>answer rate (benign)</th><th>mean RM score</th><th>KL to SFT</th><th>\"Let me explain.\" rate</th></tr>\n");
        foreach (var row in result.Comparison)
            html.Append($"<tr><td>{E(row.Model)}</td><td class=\"n\">{Pct(row.RefusalRate)}</td><td class=\"n\">{Pct(row.AnswerRate)}</td><td class=\"n\">{F(row.MeanScore, "0.00")}</td><td class=\"n\">{F(row.KlToSft, "0.00")}</td><td class=\"n\">{Pct(row.LetMeExplainRate)}</td></tr>\n");
        html.Append("</table>\n");

        html.Append("<h2>Example generations</h2>\n<table><tr><th>prompt</th>");
        var models = result.Comparison.Select(r => r.Model).ToArray();
        foreach (var m in models) html.Append($"<th>{E(m)}</th>");
        html.Append("</tr>\n");
        foreach (var example in result.Examples)
        {
            html.Append($"<tr><td class=\"ex\"><span class=\"muted\">[{E(example.Kind)}]</span> {E(example.Prompt)}</td>");
            foreach (var m in models) html.Append($"<td class=\"ex\">{E(example.Answers.GetValueOrDefault(m, ""))}</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");

        html.Append("<h2>Training curves</h2>\n");
        foreach (var stage in result.Stages)
        {
            if (!Charts.TryGetValue(stage.Name, out var charts)) continue;
            html.Append($"<h3>{E(stage.Title)} <span class=\"muted\">({F(stage.Seconds, "0.0")} s)</span></h3>\n<div class=\"charts\">\n");
            foreach (var chart in charts)
            {
                var series = chart.Metrics
                    .Select(m => new ChartSeries(m, Labels.GetValueOrDefault(m, m), stage.History.Where(h => h.ContainsKey(m) && h.ContainsKey("step") && double.IsFinite(h[m]))
                        .Select(h => (X: h["step"], Y: h[m])).ToArray()))
                    .Where(x => x.Points.Length > 0).ToArray();
                if (series.Length > 0) html.Append(SvgChart.Lines(chart.Title, "optimizer step", series, chart.Range)).Append('\n');
            }
            html.Append("</div>\n");
        }
        html.Append("<h2>Stage times</h2>\n<table><tr><th>stage</th><th>seconds</th></tr>\n");
        foreach (var stage in result.Stages) html.Append($"<tr><td>{E(stage.Title)}</td><td class=\"n\">{F(stage.Seconds, "0.0")}</td></tr>\n");
        html.Append("</table>\n<h2>summary.json</h2>\n<pre>");
        html.Append(E(JsonSerializer.Serialize(s.ToDictionary(kv => kv.Key, kv => kv.Value is double d && !double.IsFinite(d) ? null : kv.Value),
            new JsonSerializerOptions { WriteIndented = true })));
        html.Append("</pre>\n<p class=\"muted\">Model folders: tokenizer/, sft/, reward/, ppo/, dpo/, grpo_sft/, grpo/ beside this file, each with its rlhf_config.yaml. In this folder try <code>rlhf generate --model dpo --greedy --prompt \"What is 2 plus 3?\"</code> (the prompt is rendered with the same <code>### Question: …\\n### Answer: </code> template the models were trained with), or <code>rlhf generate --model grpo --raw --greedy --prompt \"37+8=\"</code> (the sums' models take the prompt as it is).</p>\n");
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static void Kpi(StringBuilder html, string label, string value, string explanation) =>
        html.Append($"<div title=\"{E(explanation)}\"><span class=\"muted\">{E(label)}</span><b>{E(value)}</b><small class=\"muted\">{E(explanation)}</small></div>");
}
