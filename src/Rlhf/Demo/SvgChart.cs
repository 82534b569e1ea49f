// A small self-contained SVG line chart for report.html: "nice" y ticks (1, 2, 5 × 10^k) with a light grid, an axis
// that does not magnify small drifts, human legend labels with the metric key as a tooltip; all text escaped.
using System.Globalization;
using System.Net;
using System.Text;

namespace Rlhf.Demo;

/// <summary>One curve: a metric key (shown as the tooltip), its label and its (step, value) points.</summary>
internal sealed record ChartSeries(string Key, string Label, (double X, double Y)[] Points);

internal static class SvgChart
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Curves whose label is their key (tests and quick charts).</summary>
    public static string Lines(string title, string xLabel, IReadOnlyList<(string Name, (double X, double Y)[] Points)> series) =>
        Lines(title, xLabel, series.Select(s => new ChartSeries(s.Name, s.Name, s.Points)).ToArray());

    /// <summary>
    /// A line chart. <paramref name="yRange"/> fixes the axis (e.g. 0–1 for accuracies); otherwise it spans the data,
    /// widened to include 0 when the data vary by less than a fifth of their size (a 3% drift stays a small drift).
    /// </summary>
    public static string Lines(string title, string xLabel, IReadOnlyList<ChartSeries> series, (double Min, double Max)? yRange = null,
        int width = 520, int height = 300)
    {
        const int left = 58, right = 14, top = 28, bottom = 58;
        var all = series.SelectMany(s => s.Points).ToArray();
        double xMin = all.Min(p => p.X), xMax = all.Max(p => p.X);
        if (xMax <= xMin) { xMin -= 1; xMax += 1; }
        var (yMin, yMax) = yRange ?? DataRange(all.Min(p => p.Y), all.Max(p => p.Y));
        var ticks = Ticks(yMin, yMax);
        if (yRange is null) { yMin = Math.Min(yMin, ticks[0]); yMax = Math.Max(yMax, ticks[^1]); }
        double plotW = width - left - right, plotH = height - top - bottom;
        string X(double x) => (left + (x - xMin) / (xMax - xMin) * plotW).ToString("0.#", Invariant);
        string Y(double y) => (top + (1 - (y - yMin) / (yMax - yMin)) * plotH).ToString("0.#", Invariant);
        double step = ticks.Length > 1 ? ticks[1] - ticks[0] : 1;
        string E(string text) => WebUtility.HtmlEncode(text);

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(title)}\">");
        svg.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"#fff\" stroke=\"#ddd\"/>");
        svg.Append($"<text x=\"{width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{E(title)}</text>");
        foreach (double tick in ticks)
        {
            bool zero = Math.Abs(tick) < step * 1e-6;
            svg.Append($"<line x1=\"{left}\" y1=\"{Y(tick)}\" x2=\"{left + plotW}\" y2=\"{Y(tick)}\" stroke=\"{(zero ? "#bbb" : "#eee")}\"/>");
            svg.Append($"<text x=\"{left - 5}\" y=\"{Y(tick)}\" dy=\"3.5\" text-anchor=\"end\" font-size=\"11\" fill=\"#444\">{E(Number(tick, step))}</text>");
        }
        svg.Append($"<line x1=\"{left}\" y1=\"{top + plotH}\" x2=\"{left + plotW}\" y2=\"{top + plotH}\" stroke=\"#888\"/>");
        svg.Append($"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotH}\" stroke=\"#888\"/>");
        var xTicks = Ticks(xMin, xMax).Where(t => t >= xMin && t <= xMax).ToArray();
        double xStep = xTicks.Length > 1 ? xTicks[1] - xTicks[0] : 1;
        foreach (double tick in xTicks)
        {
            svg.Append($"<line x1=\"{X(tick)}\" y1=\"{top + plotH}\" x2=\"{X(tick)}\" y2=\"{top + plotH + 4}\" stroke=\"#888\"/>");
            svg.Append($"<text x=\"{X(tick)}\" y=\"{top + plotH + 16}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">{E(Number(tick, xStep))}</text>");
        }
        svg.Append($"<text x=\"{left + plotW / 2}\" y=\"{top + plotH + 30}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#666\">{E(xLabel)}</text>");
        double legendX = 8;
        int legendRow = 0;
        for (int i = 0; i < series.Count; i++)
        {
            string color = Colors[i % Colors.Length];
            var points = series[i].Points;
            string tooltip = $"<title>{E(series[i].Label)} ({E(series[i].Key)})</title>";
            if (points.Length == 1)
                svg.Append($"<circle cx=\"{X(points[0].X)}\" cy=\"{Y(points[0].Y)}\" r=\"3.5\" fill=\"{color}\">{tooltip}</circle>");
            else
                svg.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(" ", points.Select(p => X(p.X) + "," + Y(p.Y)))}\">{tooltip}</polyline>");
            // Legend entries flow left to right, wrapping to a second row (width estimated at 7 px per character).
            double entryWidth = 30 + 7.0 * series[i].Label.Length;
            if (legendX + entryWidth > width - 4 && legendX > 8) { legendX = 8; legendRow++; }
            int legendY = height - 14 + 14 * legendRow - (series.Count > 2 ? 8 : 0);
            svg.Append($"<g>{tooltip}<rect x=\"{legendX.ToString("0.#", Invariant)}\" y=\"{legendY - 5}\" width=\"14\" height=\"3\" fill=\"{color}\"/>");
            svg.Append($"<text x=\"{(legendX + 18).ToString("0.#", Invariant)}\" y=\"{legendY}\" font-size=\"12\">{E(series[i].Label)}</text></g>");
            legendX += entryWidth;
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>The data's range, widened to include 0 when the spread is under a fifth of the largest magnitude.</summary>
    public static (double Min, double Max) DataRange(double min, double max)
    {
        double size = Math.Max(Math.Abs(min), Math.Abs(max));
        if (max - min < 0.2 * size)
        {
            if (min > 0) min = 0;
            else if (max < 0) max = 0;
        }
        if (max <= min) { double pad = Math.Max(1e-3, Math.Abs(min) * 0.1); min -= pad; max += pad; }
        return (min, max);
    }

    /// <summary>About five ticks at 1, 2 or 5 × 10^k covering [min, max] (the first at or below min, the last at or above max).</summary>
    public static double[] Ticks(double min, double max)
    {
        double raw = (max - min) / 5;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        double first = Math.Floor(min / step + 1e-9) * step, last = Math.Ceiling(max / step - 1e-9) * step;
        int count = (int)Math.Round((last - first) / step) + 1;
        return Enumerable.Range(0, count).Select(i => Math.Round(first + i * step, 12)).ToArray();
    }

    /// <summary>A tick label with as many decimals as the tick step needs.</summary>
    private static string Number(double value, double step)
    {
        if (Math.Abs(value) >= 1e5 || (step < 1e-4 && value != 0)) return value.ToString("0.##e0", Invariant);
        int decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
        return value.ToString("F" + decimals, Invariant);
    }
}
