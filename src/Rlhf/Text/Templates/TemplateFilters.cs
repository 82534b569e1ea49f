// jinja2's built-in filters that chat templates use, plus transformers' own `tojson` (json.dumps, not HTML-safe).
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rlhf.Text.Templates;

internal static partial class TemplateFilters
{
    public static object? Apply(string name, object? value, TemplateArguments a) => name switch
    {
        "length" or "count" => TemplateValues.Length(value),
        "trim" => TemplateMembers.Strip(TemplateValues.ToStr(value), a.Get(0, "chars") as string, left: true, right: true),
        "upper" => TemplateValues.ToStr(value).ToUpperInvariant(),
        "lower" => TemplateValues.ToStr(value).ToLowerInvariant(),
        "capitalize" => TemplateMembers.Capitalize(TemplateValues.ToStr(value)),
        "title" => Title(TemplateValues.ToStr(value)),
        "default" or "d" => value is Undefined || (a.Bool(1, "boolean") && !TemplateValues.Truthy(value)) ? a.Get(0, "default_value", "") : value,
        "join" => Join(value, a),
        "first" => TemplateValues.Iterate(value) is { Count: > 0 } items ? items[0] : new Undefined("first"),
        "last" => TemplateValues.Iterate(value) is { Count: > 0 } items ? items[^1] : new Undefined("last"),
        "items" => value is Undefined ? new List<object?>() : value is Dictionary<string, object?> dict
            ? dict.Select(p => (object?)new TemplateTuple([p.Key, p.Value])).ToList()
            : throw new InvalidOperationException($"the filter 'items' expects a mapping, got {TemplateValues.TypeName(value)}."),
        "list" => TemplateValues.Iterate(value),
        "string" => TemplateValues.ToStr(value),
        "safe" => value,
        "e" or "escape" => Escape(TemplateValues.ToStr(value)),
        "int" => ToInt(value, a),
        "float" => ToFloat(value, a),
        "abs" => value is long l ? (object)Math.Abs(l) : Math.Abs(TemplateValues.AsDouble(value)),
        "round" => Round(value, a),
        "replace" => Replace(TemplateValues.ToStr(value), a),
        "reverse" => value is string s ? new string(s.Reverse().ToArray()) : Enumerable.Reverse(TemplateValues.Iterate(value)).ToList(),
        "sort" => Sort(value, a),
        "unique" => Unique(TemplateValues.Iterate(value)),
        "min" => TemplateValues.Iterate(value).Aggregate((x, y) => TemplateValues.Compare(y, x) < 0 ? y : x),
        "max" => TemplateValues.Iterate(value).Aggregate((x, y) => TemplateValues.Compare(y, x) > 0 ? y : x),
        "sum" => Sum(value, a),
        "wordcount" => (long)TemplateMembers.Split(TemplateValues.ToStr(value), null, -1).Count,
        "indent" => Indent(TemplateValues.ToStr(value), a),
        "tojson" => ToJson(value, a),
        "dictsort" => value is Dictionary<string, object?> sortable
            ? sortable.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase).Select(p => (object?)new TemplateTuple([p.Key, p.Value])).ToList()
            : throw new InvalidOperationException("the filter 'dictsort' expects a mapping."),
        "attr" => TemplateMembers.GetAttribute(value, a.String(0, "name")),
        "map" => Map(value, a),
        "select" => SelectByTest(value, a, keep: true, attribute: false),
        "reject" => SelectByTest(value, a, keep: false, attribute: false),
        "selectattr" => SelectByTest(value, a, keep: true, attribute: true),
        "rejectattr" => SelectByTest(value, a, keep: false, attribute: true),
        _ => throw new InvalidOperationException($"the filter '{name}' is not supported by Rlhf.NET's chat-template engine."),
    };

    private static string Join(object? value, TemplateArguments a)
    {
        string separator = a.Get(0, "d", "") as string ?? "";
        var items = TemplateValues.Iterate(value);
        if (a.Get(1, "attribute") is string attribute) items = [.. items.Select(x => TemplateMembers.GetAttribute(x, attribute))];
        return string.Join(separator, items.Select(TemplateValues.ToStr));
    }

    /// <summary>transformers' tojson: json.dumps(x, ensure_ascii=False, indent, separators, sort_keys).</summary>
    private static string ToJson(object? value, TemplateArguments a)
    {
        string? indent = a.Get(0, "indent") switch
        {
            null => null,
            long n => new string(' ', (int)n),
            string s => s,
            var other => throw new InvalidOperationException($"tojson: indent must be an integer or a string, got {TemplateValues.TypeName(other)}."),
        };
        string itemSeparator = indent is null ? ", " : ",", keySeparator = ": ";
        if (a.Get(1, "separators") is List<object?> { Count: 2 } separators)
        {
            itemSeparator = separators[0] as string ?? itemSeparator;
            keySeparator = separators[1] as string ?? keySeparator;
        }
        return TemplateJson.Dumps(value, indent, itemSeparator, keySeparator, a.Bool(2, "sort_keys"));
    }

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    /// <summary>jinja2's title filter: words begin after spaces, hyphens and opening brackets.</summary>
    private static string Title(string s) =>
        string.Concat(WordBeginning().Split(s).Where(item => item.Length > 0).Select(item => char.ToUpperInvariant(item[0]) + item[1..].ToLowerInvariant()));

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    private static object? ToInt(object? value, TemplateArguments a)
    {
        object? fallback = a.Get(0, "default", 0L);
        return value switch
        {
            long l => l,
            bool b => b ? 1L : 0L,
            double d => (long)Math.Truncate(d),
            string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed) => parsed,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => (long)Math.Truncate(parsed),
            _ => fallback,
        };
    }

    private static object? ToFloat(object? value, TemplateArguments a) => value switch
    {
        long or double or bool => TemplateValues.AsDouble(value),
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
        _ => a.Get(0, "default", 0.0),
    };

    private static object Round(object? value, TemplateArguments a)
    {
        int precision = (int)TemplateValues.AsLong(a.Get(0, "precision", 0L));
        string method = a.Get(1, "method", "common") as string ?? "common";
        double x = TemplateValues.AsDouble(value), scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x * scale, MidpointRounding.AwayFromZero) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            "ceil" => Math.Ceiling(x * scale) / scale,
            _ => throw new InvalidOperationException("round: method must be common, floor or ceil."),
        };
    }

    private static string Replace(string s, TemplateArguments a)
    {
        string old = a.String(0, "old"), replacement = a.String(1, "new");
        long count = a.Get(2, "count") is long c ? c : -1;
        if (count < 0) return s.Replace(old, replacement, StringComparison.Ordinal);
        var b = new StringBuilder();
        int from = 0;
        for (long done = 0; done < count; done++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            b.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return b.Append(s, from, s.Length - from).ToString();
    }

    private static object? Key(object? item, string? attribute, bool caseSensitive)
    {
        object? key = attribute is null ? item : TemplateMembers.GetAttribute(item, attribute);
        return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
    }

    private static List<object?> Sort(object? value, TemplateArguments a)
    {
        bool reverse = a.Bool(0, "reverse"), caseSensitive = a.Bool(1, "case_sensitive");
        string? attribute = a.Get(2, "attribute") as string;
        var items = TemplateValues.Iterate(value);
        var sorted = items.Select((item, i) => (item, i)).OrderBy(p => Key(p.item, attribute, caseSensitive), Comparer<object?>.Create(TemplateValues.Compare)).ThenBy(p => p.i).Select(p => p.item).ToList();
        if (reverse) sorted.Reverse();
        return sorted;
    }

    private static List<object?> Unique(List<object?> items)
    {
        var result = new List<object?>();
        foreach (var item in items)
        {
            var key = item is string s ? s.ToLowerInvariant() : item;
            if (!result.Any(r => TemplateValues.Equals(r is string rs ? rs.ToLowerInvariant() : r, key))) result.Add(item);
        }
        return result;
    }

    private static object Sum(object? value, TemplateArguments a)
    {
        string? attribute = a.Get(0, "attribute") as string;
        object? total = a.Get(1, "start", 0L);
        foreach (var item in TemplateValues.Iterate(value))
            total = TemplateOperators.Apply("+", total, attribute is null ? item : TemplateMembers.GetAttribute(item, attribute));
        return total!;
    }

    /// <summary>jinja2's indent: every line but the first (unless first=True) and blank lines (unless blank=True).</summary>
    private static string Indent(string s, TemplateArguments a)
    {
        string prefix = a.Get(0, "width", 4L) is string text ? text : new string(' ', (int)TemplateValues.AsLong(a.Get(0, "width", 4L)));
        bool first = a.Bool(1, "first"), blank = a.Bool(2, "blank");
        var lines = s.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (i == 0 && !first) continue;
            if (!blank && lines[i].Trim().Length == 0) continue;
            lines[i] = prefix + lines[i];
        }
        return string.Join('\n', lines);
    }

    private static List<object?> Map(object? value, TemplateArguments a)
    {
        var items = TemplateValues.Iterate(value);
        if (a.Keywords.TryGetValue("attribute", out var attribute) && attribute is string name)
        {
            a.Keywords.TryGetValue("default", out var fallback);
            return [.. items.Select(x => TemplateMembers.GetAttribute(x, name) is Undefined && a.Keywords.ContainsKey("default") ? fallback : TemplateMembers.GetAttribute(x, name))];
        }
        if (a.Positional.Count == 0 || a.Positional[0] is not string filter) throw new InvalidOperationException("map needs a filter name or attribute=.");
        var rest = new TemplateArguments(filter, a.Positional[1..], []);
        return [.. items.Select(x => Apply(filter, x, rest))];
    }

    private static List<object?> SelectByTest(object? value, TemplateArguments a, bool keep, bool attribute)
    {
        var items = TemplateValues.Iterate(value);
        int offset = attribute ? 1 : 0;
        string? attributeName = attribute ? a.String(0, "attribute") : null;
        string? test = a.Positional.Count > offset ? a.Positional[offset] as string : null;
        var testArguments = a.Positional.Count > offset + 1 ? a.Positional[(offset + 1)..] : [];
        return [.. items.Where(item =>
        {
            object? subject = attributeName is null ? item : TemplateMembers.GetAttribute(item, attributeName);
            bool passed = test is null ? TemplateValues.Truthy(subject) : TemplateTests.Apply(test, subject, testArguments);
            return passed == keep;
        })];
    }
}
