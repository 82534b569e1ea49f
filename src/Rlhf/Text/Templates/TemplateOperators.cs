// Python's binary operators on template values (+ - * / // % ** ~ in), with its type errors.
namespace Rlhf.Text.Templates;

internal static class TemplateOperators
{
    public static object? Apply(string op, object? left, object? right)
    {
        if (op == "~") return TemplateValues.ToStr(left) + TemplateValues.ToStr(right);
        if (op is "in") return Contains(right, left);
        if (op is "not in") return !Contains(right, left);
        if (left is Undefined u1) throw new InvalidOperationException($"'{u1.Name}' is undefined (used with '{op}').");
        if (right is Undefined u2) throw new InvalidOperationException($"'{u2.Name}' is undefined (used with '{op}').");
        if (TemplateValues.IsNumber(left) && TemplateValues.IsNumber(right)) return Arithmetic(op, left, right);
        switch (op, left, right)
        {
            case ("+", string a, string b): return a + b;
            case ("+", List<object?> a, List<object?> b): return a is TemplateTuple ? new TemplateTuple([.. a, .. b]) : new List<object?>([.. a, .. b]);
            case ("*", string a, long n): return string.Concat(Enumerable.Repeat(a, (int)Math.Max(0, n)));
            case ("*", long n, string a): return string.Concat(Enumerable.Repeat(a, (int)Math.Max(0, n)));
            case ("*", List<object?> a, long n): return Enumerable.Repeat(a, (int)Math.Max(0, n)).SelectMany(x => x).ToList();
        }
        throw new InvalidOperationException($"unsupported operand types for {op}: '{TemplateValues.TypeName(left)}' and '{TemplateValues.TypeName(right)}'.");
    }

    private static object Arithmetic(string op, object? left, object? right)
    {
        bool integral = left is not double && right is not double;
        if (integral)
        {
            long a = TemplateValues.AsLong(left), b = TemplateValues.AsLong(right);
            switch (op)
            {
                case "+": return a + b;
                case "-": return a - b;
                case "*": return a * b;
                case "/": return b == 0 ? throw new DivideByZeroException("division by zero.") : (double)a / b;
                case "//": return b == 0 ? throw new DivideByZeroException("integer division by zero.") : FloorDiv(a, b);
                case "%": return b == 0 ? throw new DivideByZeroException("modulo by zero.") : a - b * FloorDiv(a, b);
                case "**": return b >= 0 ? (object)(long)Math.Pow(a, b) : Math.Pow(a, b);
            }
        }
        double x = TemplateValues.AsDouble(left), y = TemplateValues.AsDouble(right);
        return op switch
        {
            "+" => x + y,
            "-" => x - y,
            "*" => x * y,
            "/" => y == 0 ? throw new DivideByZeroException("float division by zero.") : x / y,
            "//" => y == 0 ? throw new DivideByZeroException("float floor division by zero.") : Math.Floor(x / y),
            "%" => y == 0 ? throw new DivideByZeroException("float modulo.") : x - y * Math.Floor(x / y),
            "**" => Math.Pow(x, y),
            _ => throw new InvalidOperationException($"unknown operator '{op}'."),
        };
    }

    private static long FloorDiv(long a, long b) => a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);

    /// <summary>Python's `needle in container`: substring, list member, dict key.</summary>
    public static bool Contains(object? container, object? needle) => container switch
    {
        string s => needle is string n ? s.Contains(n, StringComparison.Ordinal) : throw new InvalidOperationException($"'in <string>' requires a string as left operand, not {TemplateValues.TypeName(needle)}."),
        List<object?> list => list.Any(x => TemplateValues.Equals(x, needle)),
        Dictionary<string, object?> dict => needle is string k && dict.ContainsKey(k),
        Undefined => false,
        _ => throw new InvalidOperationException($"argument of type '{TemplateValues.TypeName(container)}' is not iterable."),
    };
}
