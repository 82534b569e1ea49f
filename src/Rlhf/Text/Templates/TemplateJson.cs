// JSON in and out of templates. Out: transformers' `tojson` filter, which is Python's
// json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys) (not jinja2's
// HTML-safe tojson). In: message lists and other context values from System.Text.Json.
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Rlhf.Text.Templates;

internal static class TemplateJson
{
    /// <summary>A JSON value as a template value: objects keep their key order; integers stay integers.</summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Aggregate(new Dictionary<string, object?>(StringComparer.Ordinal), (d, p) => { d[p.Name] = FromJson(p.Value); return d; }),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out long l) ? (object)l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    public static string Dumps(object? value, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        var builder = new StringBuilder();
        Write(builder, value, indent, itemSeparator, keySeparator, sortKeys, 0);
        return builder.ToString();
    }

    private static void Write(StringBuilder b, object? value, string? indent, string itemSep, string keySep, bool sortKeys, int depth)
    {
        switch (value)
        {
            case null: b.Append("null"); return;
            case bool flag: b.Append(flag ? "true" : "false"); return;
            case long l: b.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d: b.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : TemplateValues.FloatRepr(d)); return;
            case string s: WriteString(b, s); return;
            case List<object?> list:
                WriteContainer(b, list.Count, indent, itemSep, depth, '[', ']', i => Write(b, list[i], indent, itemSep, keySep, sortKeys, depth + 1));
                return;
            case Dictionary<string, object?> dict:
                var pairs = sortKeys ? [.. dict.OrderBy(p => p.Key, StringComparer.Ordinal)] : dict.ToList();
                WriteContainer(b, pairs.Count, indent, itemSep, depth, '{', '}', i =>
                {
                    WriteString(b, pairs[i].Key);
                    b.Append(keySep);
                    Write(b, pairs[i].Value, indent, itemSep, keySep, sortKeys, depth + 1);
                });
                return;
            default:
                throw new InvalidOperationException($"Object of type {TemplateValues.TypeName(value)} is not JSON serializable.");
        }
    }

    private static void WriteContainer(StringBuilder b, int count, string? indent, string itemSep, int depth, char open, char close, Action<int> item)
    {
        b.Append(open);
        if (count == 0) { b.Append(close); return; }
        for (int i = 0; i < count; i++)
        {
            if (i > 0) b.Append(itemSep);
            if (indent is not null) b.Append('\n').Append(string.Concat(Enumerable.Repeat(indent, depth + 1)));
            item(i);
        }
        if (indent is not null) b.Append('\n').Append(string.Concat(Enumerable.Repeat(indent, depth)));
        b.Append(close);
    }

    /// <summary>Python's json string escaping with ensure_ascii=False.</summary>
    private static void WriteString(StringBuilder b, string s)
    {
        b.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                case '\b': b.Append("\\b"); break;
                case '\f': b.Append("\\f"); break;
                default:
                    if (c < 0x20) b.Append($"\\u{(int)c:x4}");
                    else b.Append(c);
                    break;
            }
        }
        b.Append('"');
    }
}
