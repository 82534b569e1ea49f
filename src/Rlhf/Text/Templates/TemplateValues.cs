// Runtime values of the template engine and Python's rules for them (str, repr, truth, ==, <), since transformers
// renders with jinja2 on Python objects: None/True/False print as Python does, `1 == 1.0`, `[] ` is false.
// Values: null (None), bool, long, double, string, List (list; TemplateTuple for tuples), Dictionary<string, object?>
// (dict, insertion ordered), Undefined, Namespace, LoopContext, TemplateFunction.
using System.Globalization;
using System.Text;

namespace Rlhf.Text.Templates;

/// <summary>jinja2's default Undefined: prints as "", is false, iterates as empty; its attributes are errors.</summary>
internal sealed class Undefined(string name)
{
    public string Name { get; } = name;
}

internal sealed class TemplateTuple : List<object?>
{
    public TemplateTuple() { }
    public TemplateTuple(IEnumerable<object?> items) : base(items) { }
}

/// <summary>`namespace(...)`: the one object templates may assign attributes to (`set ns.x = ...`).</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A callable: a global (range, namespace, raise_exception, strftime_now), a bound method or a macro.</summary>
internal sealed class TemplateFunction(string name, Func<List<object?>, Dictionary<string, object?>, object?> invoke)
{
    public string Name { get; } = name;
    public object? Invoke(List<object?> arguments, Dictionary<string, object?> keywords) => invoke(arguments, keywords);
}

/// <summary>The `loop` variable of a for loop.</summary>
internal sealed class LoopContext(List<object?> items)
{
    public int Index0 { get; set; }
    public List<object?> Items { get; } = items;

    public object? Get(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("loop.previtem"),
        "nextitem" => Index0 + 1 < Items.Count ? Items[Index0 + 1] : new Undefined("loop.nextitem"),
        "cycle" => new TemplateFunction("loop.cycle", (args, _) =>
            args.Count == 0 ? throw new InvalidOperationException("loop.cycle needs at least one value.") : args[Index0 % args.Count]),
        _ => new Undefined("loop." + name),
    };
}

internal static class TemplateValues
{
    public static bool IsUndefined(object? value) => value is Undefined;

    /// <summary>Python truthiness.</summary>
    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    /// <summary>Python's str() of a value, which is what {{ value }} prints.</summary>
    public static string ToStr(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's repr(), used for list and dict members and for non-strings.</summary>
    public static string Repr(object? value)
    {
        switch (value)
        {
            case null: return "None";
            case Undefined: return "";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case TemplateTuple t: return t.Count == 1 ? $"({Repr(t[0])},)" : "(" + string.Join(", ", t.Select(Repr)) + ")";
            case List<object?> list: return "[" + string.Join(", ", list.Select(Repr)) + "]";
            case Dictionary<string, object?> dict: return "{" + string.Join(", ", dict.Select(p => StringRepr(p.Key) + ": " + Repr(p.Value))) + "}";
            case Namespace ns: return "<Namespace " + Repr(ns.Attributes) + ">";
            case TemplateFunction f: return $"<function {f.Name}>";
            case LoopContext: return "<LoopContext>";
            default: return value.ToString() ?? "";
        }
    }

    /// <summary>Python's float repr: the shortest digits that round-trip, fixed notation for exponents -4..15.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E');
        int exponent = e < 0 ? 0 : int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        string mantissa = e < 0 ? r : r[..e];
        int point = mantissa.IndexOf('.');
        int integerDigits = point < 0 ? mantissa.Length : point;
        string digits = mantissa.Replace(".", "");
        int leading = digits.Length - digits.TrimStart('0').Length;
        digits = digits.TrimStart('0').TrimEnd('0');
        if (digits.Length == 0) return (d < 0 || double.IsNegative(d) ? "-" : "") + "0.0";
        int x = integerDigits - leading - 1 + exponent; // scientific exponent
        string text;
        if (x is >= -4 and < 16)
        {
            if (x >= 0)
            {
                string whole = digits.Length > x + 1 ? digits[..(x + 1)] : digits.PadRight(x + 1, '0');
                string fraction = digits.Length > x + 1 ? digits[(x + 1)..] : "0";
                text = whole + "." + fraction;
            }
            else text = "0." + new string('0', -x - 1) + digits;
        }
        else text = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + "e" + (x < 0 ? "-" : "+") + Math.Abs(x).ToString("00", CultureInfo.InvariantCulture);
        return d < 0 ? "-" + text : text;
    }

    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var builder = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c == quote) builder.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) builder.Append($"\\x{(int)c:x2}");
                    else builder.Append(c);
                    break;
            }
        }
        return builder.Append(quote).ToString();
    }

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        TemplateTuple => "tuple",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        Namespace => "Namespace",
        TemplateFunction => "function",
        LoopContext => "LoopContext",
        _ => value.GetType().Name,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double AsDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException($"expected a number, got {TypeName(value)}."),
    };

    /// <summary>Python ==.</summary>
    public static new bool Equals(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            if (left is double || right is double) return AsDouble(left) == AsDouble(right);
            return AsLong(left) == AsLong(right);
        }
        return (left, right) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (string a, string b) => string.Equals(a, b, StringComparison.Ordinal),
            (List<object?> a, List<object?> b) => (a is TemplateTuple) == (b is TemplateTuple) && a.Count == b.Count && a.Zip(b).All(p => Equals(p.First, p.Second)),
            (Dictionary<string, object?> a, Dictionary<string, object?> b) =>
                a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && Equals(p.Value, v)),
            _ => ReferenceEquals(left, right),
        };
    }

    public static long AsLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new InvalidOperationException($"expected an integer, got {TypeName(value)}."),
    };

    /// <summary>Python ordering (&lt;): numbers with numbers, strings by code point, lists element-wise.</summary>
    public static int Compare(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right)) return AsDouble(left).CompareTo(AsDouble(right));
        if (left is string a && right is string b) return string.CompareOrdinal(a, b) switch { < 0 => -1, > 0 => 1, _ => 0 };
        if (left is List<object?> x && right is List<object?> y)
        {
            for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
                if (!Equals(x[i], y[i])) return Compare(x[i], y[i]);
            return x.Count.CompareTo(y.Count);
        }
        throw new InvalidOperationException($"'<' is not supported between {TypeName(left)} and {TypeName(right)}.");
    }

    /// <summary>The items a for loop or filter walks: list members, dict keys, string characters; Undefined is empty.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        Undefined => [],
        List<object?> list => [.. list],
        Dictionary<string, object?> dict => [.. dict.Keys],
        string s => [.. EnumerateCodePoints(s)],
        _ => throw new InvalidOperationException($"'{TypeName(value)}' object is not iterable."),
    };

    private static IEnumerable<object?> EnumerateCodePoints(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { yield return s.Substring(i, 2); i++; }
            else yield return s[i].ToString();
        }
    }

    /// <summary>len(): code points of a string, members of a list, keys of a dict.</summary>
    public static long Length(object? value) => value switch
    {
        Undefined => 0,
        string s => s.EnumerateRunes().Count(),
        System.Collections.ICollection c => c.Count,
        _ => throw new InvalidOperationException($"object of type '{TypeName(value)}' has no len()."),
    };
}
