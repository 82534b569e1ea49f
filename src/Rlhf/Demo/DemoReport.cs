// The demo's outputs: summary.json, and report.html — a self-contained page (inline CSS and SVG, no scripts, no
// network) with every stage's curves, the comparison table and example generations.
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Rlhf.Models;

namespace Rlhf.Demo;

public static class DemoReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Curves drawn per stage: (chart title, metric names); a chart is skipped when none was logged.</summary>
    private static readonly Dictionary<string, (string Title, string[] Metrics)[]> Charts = new()
    {
        ["sft"] = [("Loss", ["loss", "eval_loss"])],
        ["reward"] = [("Loss", ["loss", "eval_loss"]), ("Accuracy", ["accuracy", "eval_accuracy"]), ("Margin", ["margin", "eval_margin"])],
        ["ppo"] = [("Reward-model score", ["objective/scores", "objective/rlhf_reward"]), ("KL to SFT", ["objective/kl"]),
            ("Losses", ["loss/policy_avg", "loss/value_avg"]), ("KL coefficient β", ["kl_coef"])],
        ["dpo"] = [("Loss", ["loss", "eval_loss"]), ("Implicit rewards", ["rewards/chosen", "rewards/rejected", "rewards/margins"]),
            ("Preference accuracy", ["rewards/accuracies", "eval_rewards/accuracies"])],
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
        html.Append(".kpi div{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;background:#fafafa}.kpi b{display:block;font-size:1.3em}");
        html.Append("td.ex{max-width:260px;font-size:.92em}svg text{font-family:system-ui,sans-serif}\n</style></head><body>\n");
        html.Append("<h1>Rlhf.NET demo</h1>\n");
        html.Append($"<p class=\"muted\">tokenizer → SFT → reward model → PPO → DPO on the built-in data{(result.Quick ? " (<b>--quick</b>: a tiny model and few steps; the numbers only show the pipeline runs)" : "")}. ");
        html.Append($"Model: GPT-2, {result.Settings.LayerCount} layers, {result.Settings.HeadCount} heads, {result.Settings.EmbeddingSize} channels, vocabulary {E(Convert.ToString(s.GetValueOrDefault("vocab_size"), Invariant) ?? "")}, context {result.Settings.ContextLength}. ");
        html.Append($"Total time {F(Num("seconds"), "0.0")} s.</p>\n");

        html.Append("<div class=\"kpi\">");
        Kpi(html, "Reward-model accuracy (held out)", Pct(Num("rm_accuracy")));
        Kpi(html, "PPO held-out reward", $"{F(Num("ppo_reward_before"), "0.00")} → {F(Num("ppo_reward_after"), "0.00")}");
        Kpi(html, "PPO KL to SFT", F(Num("ppo_kl"), "0.00"));
        Kpi(html, "Refusals on harmful prompts", $"{Pct(Num("refusal_rate_sft"))} → {Pct(Num("refusal_rate_ppo"))}");
        Kpi(html, "\"Let me explain.\"", $"{Pct(Num("let_me_explain_rate_sft"))} → {Pct(Num("let_me_explain_rate_dpo"))}");
        html.Append("</div>\n");

        html.Append("<h2>Comparison on held-out prompts</h2>\n");
        html.Append("<p class=\"muted\">Greedy answers. Refusal rate on harmful prompts; answer rate (non-empty, not a refusal) on benign prompts; mean reward-model score; ");
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
            foreach (var (title, metrics) in charts)
            {
                var series = metrics
                    .Select(m => (Name: m, Points: stage.History.Where(h => h.ContainsKey(m) && h.ContainsKey("step") && double.IsFinite(h[m]))
                        .Select(h => (X: h["step"], Y: h[m])).ToArray()))
                    .Where(x => x.Points.Length > 0).ToArray();
                if (series.Length > 0) html.Append(SvgChart.Lines(title, "step", series)).Append('\n');
            }
            html.Append("</div>\n");
        }
        html.Append("<h2>Stage times</h2>\n<table><tr><th>stage</th><th>seconds</th></tr>\n");
        foreach (var stage in result.Stages) html.Append($"<tr><td>{E(stage.Title)}</td><td class=\"n\">{F(stage.Seconds, "0.0")}</td></tr>\n");
        html.Append("</table>\n<h2>summary.json</h2>\n<pre>");
        html.Append(E(JsonSerializer.Serialize(s.ToDictionary(kv => kv.Key, kv => kv.Value is double d && !double.IsFinite(d) ? null : kv.Value),
            new JsonSerializerOptions { WriteIndented = true })));
        html.Append("</pre>\n<p class=\"muted\">Model folders: tokenizer/, sft/, reward/, ppo/, dpo/ beside this file (try <code>rlhf generate --model dpo --prompt \"### Question: What is 2 plus 3?\\n### Answer: \"</code>).</p>\n");
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static void Kpi(StringBuilder html, string label, string value) =>
        html.Append($"<div><span class=\"muted\">{E(label)}</span><b>{E(value)}</b></div>");
}

/// <summary>A tiny SVG line chart (polylines, axes, min/max labels, legend); all text escaped.</summary>
public static class SvgChart
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Lines(string title, string xLabel, IReadOnlyList<(string Name, (double X, double Y)[] Points)> series,
        int width = 340, int height = 230)
    {
        const int left = 52, right = 12, top = 26, bottom = 50;
        var all = series.SelectMany(s => s.Points).ToArray();
        double xMin = all.Min(p => p.X), xMax = all.Max(p => p.X), yMin = all.Min(p => p.Y), yMax = all.Max(p => p.Y);
        if (xMax <= xMin) { xMin -= 1; xMax += 1; }
        if (yMax <= yMin) { double pad = Math.Max(1e-3, Math.Abs(yMin) * 0.1); yMin -= pad; yMax += pad; }
        double plotW = width - left - right, plotH = height - top - bottom;
        string X(double x) => (left + (x - xMin) / (xMax - xMin) * plotW).ToString("0.#", Invariant);
        string Y(double y) => (top + (1 - (y - yMin) / (yMax - yMin)) * plotH).ToString("0.#", Invariant);
        string N(double v) => Math.Abs(v) >= 1000 || (Math.Abs(v) < 0.01 && v != 0) ? v.ToString("0.##e0", Invariant) : v.ToString("0.###", Invariant);
        string E(string text) => WebUtility.HtmlEncode(text);

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(title)}\">");
        svg.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"#fff\" stroke=\"#ddd\"/>");
        svg.Append($"<text x=\"{width / 2}\" y=\"17\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{E(title)}</text>");
        svg.Append($"<line x1=\"{left}\" y1=\"{top + plotH}\" x2=\"{left + plotW}\" y2=\"{top + plotH}\" stroke=\"#888\"/>");
        svg.Append($"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotH}\" stroke=\"#888\"/>");
        svg.Append($"<text x=\"{left - 4}\" y=\"{top + 4}\" text-anchor=\"end\" font-size=\"10\">{E(N(yMax))}</text>");
        svg.Append($"<text x=\"{left - 4}\" y=\"{top + plotH}\" text-anchor=\"end\" font-size=\"10\">{E(N(yMin))}</text>");
        svg.Append($"<text x=\"{left}\" y=\"{top + plotH + 13}\" text-anchor=\"middle\" font-size=\"10\">{E(N(xMin))}</text>");
        svg.Append($"<text x=\"{left + plotW}\" y=\"{top + plotH + 13}\" text-anchor=\"end\" font-size=\"10\">{E(N(xMax))}</text>");
        svg.Append($"<text x=\"{left + plotW / 2}\" y=\"{top + plotH + 13}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#666\">{E(xLabel)}</text>");
        if (yMin < 0 && yMax > 0)
            svg.Append($"<line x1=\"{left}\" y1=\"{Y(0)}\" x2=\"{left + plotW}\" y2=\"{Y(0)}\" stroke=\"#ccc\" stroke-dasharray=\"3,3\"/>");
        double legendX = 8;
        int legendRow = 0;
        for (int i = 0; i < series.Count; i++)
        {
            string color = Colors[i % Colors.Length];
            var points = series[i].Points;
            if (points.Length == 1)
                svg.Append($"<circle cx=\"{X(points[0].X)}\" cy=\"{Y(points[0].Y)}\" r=\"3\" fill=\"{color}\"/>");
            else
                svg.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"{string.Join(" ", points.Select(p => X(p.X) + "," + Y(p.Y)))}\"/>");
            // Legend entries flow left to right, wrapping to a second row (width estimated at 5.8 px per character).
            double entryWidth = 22 + 5.8 * series[i].Name.Length;
            if (legendX + entryWidth > width - 4 && legendX > 8) { legendX = 8; legendRow++; }
            int legendY = height - 22 + 12 * legendRow;
            svg.Append($"<rect x=\"{legendX.ToString("0.#", Invariant)}\" y=\"{legendY - 4}\" width=\"10\" height=\"3\" fill=\"{color}\"/>");
            svg.Append($"<text x=\"{(legendX + 13).ToString("0.#", Invariant)}\" y=\"{legendY}\" font-size=\"10\">{E(series[i].Name)}</text>");
            legendX += entryWidth;
        }
        svg.Append("</svg>");
        return svg.ToString();
    }
}
