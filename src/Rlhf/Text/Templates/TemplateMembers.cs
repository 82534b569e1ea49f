// Attribute and item access (jinja2's getattr/getitem rules on Python objects) and the str/dict/list methods
// templates call (.strip(), .startswith(), .split(), .items(), .get(), ...). Mutating methods are refused, as in
// transformers' ImmutableSandboxedEnvironment.
using System.Text;

namespace Rlhf.Text.Templates;

internal static class TemplateMembers
{
    private static readonly HashSet<string> MutatingMethods =
        ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem", "add", "discard"];

    /// <summary>`obj.name`: a Python attribute (method) first, then an item; missing is Undefined.</summary>
    public static object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case Undefined u: throw new InvalidOperationException($"'{u.Name}' is undefined, so it has no attribute '{name}'.");
            case Namespace ns: return ns.Attributes.TryGetValue(name, out var v) ? v : new Undefined(name);
            case LoopContext loop: return loop.Get(name);
        }
        var method = Method(target, name);
        if (method is not null) return method;
        if (target is Dictionary<string, object?> dict && dict.TryGetValue(name, out var item)) return item;
        return new Undefined(name);
    }

    /// <summary>`obj[key]`: an item first, then an attribute; missing is Undefined.</summary>
    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case Undefined u: throw new InvalidOperationException($"'{u.Name}' is undefined, so it has no item {TemplateValues.Repr(key)}.");
            case Dictionary<string, object?> dict when key is string s:
                return dict.TryGetValue(s, out var value) ? value : GetAttribute(target, s);
            case List<object?> list when key is long or bool:
                long i = TemplateValues.AsLong(key);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new Undefined($"[{key}]");
            case string text when key is long or bool:
                var runes = text.EnumerateRunes().ToList();
                long j = TemplateValues.AsLong(key);
                if (j < 0) j += runes.Count;
                return j >= 0 && j < runes.Count ? runes[(int)j].ToString() : new Undefined($"[{key}]");
            case Namespace or LoopContext when key is string name:
                return GetAttribute(target, name);
        }
        return key is string attribute ? GetAttribute(target, attribute) : new Undefined($"[{TemplateValues.Repr(key)}]");
    }

    /// <summary>Python slicing, target[start:stop:step], for lists, tuples and strings.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        long stride = step is null ? 1 : TemplateValues.AsLong(step);
        if (stride == 0) throw new InvalidOperationException("slice step cannot be zero.");
        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => [.. s.EnumerateRunes().Select(r => (object?)r.ToString())],
            Undefined u => throw new InvalidOperationException($"'{u.Name}' is undefined and cannot be sliced."),
            _ => throw new InvalidOperationException($"'{TemplateValues.TypeName(target)}' object cannot be sliced."),
        };
        int n = items.Count;
        long Clamp(object? bound, long fallback)
        {
            if (bound is null) return fallback;
            long b = TemplateValues.AsLong(bound);
            if (b < 0) b += n;
            return stride > 0 ? Math.Clamp(b, 0, n) : Math.Clamp(b, -1, n - 1);
        }
        long from = Clamp(start, stride > 0 ? 0 : n - 1), to = Clamp(stop, stride > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = from; stride > 0 ? i < to : i > to; i += stride) result.Add(items[(int)i]);
        return target switch
        {
            string => string.Concat(result.Cast<string>()),
            TemplateTuple => new TemplateTuple(result),
            _ => result,
        };
    }

    private static TemplateFunction? Method(object? target, string name)
    {
        if (target is List<object?> or Dictionary<string, object?> && MutatingMethods.Contains(name))
            return new TemplateFunction(name, (_, _) => throw new InvalidOperationException($"the {TemplateValues.TypeName(target)} method '{name}' modifies its object, which chat templates may not do (transformers' sandbox forbids it)."));
        return target switch
        {
            string s => StringMethod(s, name),
            Dictionary<string, object?> d => DictMethod(d, name),
            List<object?> l => ListMethod(l, name),
            _ => null,
        };
    }

    private static TemplateFunction Bind(string name, Func<TemplateArguments, object?> body) =>
        new(name, (args, kwargs) => body(new TemplateArguments(name, args, kwargs)));

    private static TemplateFunction? DictMethod(Dictionary<string, object?> d, string name) => name switch
    {
        "items" => Bind(name, _ => d.Select(p => (object?)new TemplateTuple([p.Key, p.Value])).ToList()),
        "keys" => Bind(name, _ => d.Keys.Select(k => (object?)k).ToList()),
        "values" => Bind(name, _ => d.Values.ToList()),
        "get" => Bind(name, a => a.Required(0, "key") is string k && d.TryGetValue(k, out var v) ? v : a.Get(1, "default")),
        "copy" => Bind(name, _ => new Dictionary<string, object?>(d, StringComparer.Ordinal)),
        _ => null,
    };

    private static TemplateFunction? ListMethod(List<object?> l, string name) => name switch
    {
        "count" => Bind(name, a => (long)l.Count(x => TemplateValues.Equals(x, a.Required(0, "value")))),
        "index" => Bind(name, a =>
        {
            int i = l.FindIndex(x => TemplateValues.Equals(x, a.Required(0, "value")));
            return i >= 0 ? (long)i : throw new InvalidOperationException($"{TemplateValues.Repr(a.Get(0, "value"))} is not in list.");
        }),
        "copy" => Bind(name, _ => l is TemplateTuple ? new TemplateTuple(l) : new List<object?>(l)),
        _ => null,
    };

    private static TemplateFunction? StringMethod(string s, string name) => name switch
    {
        "strip" => Bind(name, a => Strip(s, a.Get(0, "chars") as string, left: true, right: true)),
        "lstrip" => Bind(name, a => Strip(s, a.Get(0, "chars") as string, left: true, right: false)),
        "rstrip" => Bind(name, a => Strip(s, a.Get(0, "chars") as string, left: false, right: true)),
        "startswith" => Bind(name, a => Affixes(a.Required(0, "prefix")).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Bind(name, a => Affixes(a.Required(0, "suffix")).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
        "split" => Bind(name, a => Split(s, a.Get(0, "sep") as string, TemplateValues.AsLong(a.Get(1, "maxsplit", -1L)))),
        "rsplit" => Bind(name, a => RSplit(s, a.Get(0, "sep") as string, TemplateValues.AsLong(a.Get(1, "maxsplit", -1L)))),
        "splitlines" => Bind(name, _ => SplitLines(s)),
        "upper" => Bind(name, _ => s.ToUpperInvariant()),
        "lower" => Bind(name, _ => s.ToLowerInvariant()),
        "capitalize" => Bind(name, _ => Capitalize(s)),
        "title" => Bind(name, _ => PythonTitle(s)),
        "replace" => Bind(name, a => Replace(s, a.String(0, "old"), a.String(1, "new"), TemplateValues.AsLong(a.Get(2, "count", -1L)))),
        "find" => Bind(name, a => (long)s.IndexOf(a.String(0, "sub"), StringComparison.Ordinal)),
        "rfind" => Bind(name, a => (long)s.LastIndexOf(a.String(0, "sub"), StringComparison.Ordinal)),
        "count" => Bind(name, a => CountOccurrences(s, a.String(0, "sub"))),
        "join" => Bind(name, a => string.Join(s, TemplateValues.Iterate(a.Required(0, "iterable")).Select(x =>
            x as string ?? throw new InvalidOperationException($"str.join expects strings, got {TemplateValues.TypeName(x)}.")))),
        "isdigit" => Bind(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Bind(name, _ => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => Bind(name, _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => Bind(name, _ => s.Length > 0 && s.All(IsSpace)),
        "isupper" => Bind(name, _ => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => Bind(name, _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        "zfill" => Bind(name, a => s.PadLeft((int)TemplateValues.AsLong(a.Required(0, "width")), '0')),
        _ => null,
    };

    /// <summary>Python's str.isspace per character (Unicode whitespace plus the \x1c-\x1f separators).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? IsSpace : chars.Contains;
        int start = 0, end = s.Length;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    private static IEnumerable<string> Affixes(object? value) => value switch
    {
        string s => [s],
        List<object?> list => list.Select(x => x as string ?? throw new InvalidOperationException("startswith/endswith take a string or a tuple of strings.")),
        _ => throw new InvalidOperationException("startswith/endswith take a string or a tuple of strings."),
    };

    public static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit) { parts.Add(Strip(s[i..], null, left: false, right: true)); break; }
                int start = i;
                while (i < s.Length && !IsSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator.Length == 0) throw new InvalidOperationException("split: empty separator.");
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    private static List<object?> RSplit(string s, string? separator, long maxSplit)
    {
        if (maxSplit < 0 || separator is null) return Split(s, separator, maxSplit < 0 ? -1 : maxSplit);
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < maxSplit)
        {
            int at = end == 0 ? -1 : s.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + separator.Length > end) break;
            parts.Insert(0, s[(at + separator.Length)..end]);
            end = at;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    private static List<object?> SplitLines(string s)
    {
        var lines = new List<object?>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is not ('\n' or '\r')) continue;
            lines.Add(s[start..i]);
            if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Join(replacement, ["", .. s.Select(c => c.ToString()), ""]) : s.Replace(old, replacement, StringComparison.Ordinal);
        var b = new StringBuilder();
        int from = 0;
        for (long done = 0; done < count && old.Length > 0; done++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            b.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return b.Append(s, from, s.Length - from).ToString();
    }

    private static long CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        long count = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Python's str.title: each run of letters starts upper-case, the rest lower-case.</summary>
    public static string PythonTitle(string s)
    {
        var b = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            b.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }
        return b.ToString();
    }
}
