// jinja2's tests (`x is defined`, `x is string`, `x is none`, ...) with Python's type rules.
namespace Rlhf.Text.Templates;

internal static class TemplateTests
{
    public static bool Apply(string name, object? value, List<object?> args)
    {
        object? Arg(int i) => i < args.Count ? args[i] : throw new InvalidOperationException($"the test '{name}' needs an argument.");
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double or bool,
            "string" => value is string,
            "mapping" => value is Dictionary<string, object?>,
            "iterable" => value is string or List<object?> or Dictionary<string, object?> or Undefined,
            "sequence" => value is string or List<object?> or Dictionary<string, object?>,
            "callable" => value is TemplateFunction,
            "odd" => TemplateValues.AsLong(value) % 2 != 0,
            "even" => TemplateValues.AsLong(value) % 2 == 0,
            "divisibleby" => TemplateValues.AsLong(value) % TemplateValues.AsLong(Arg(0)) == 0,
            "eq" or "equalto" or "==" => TemplateValues.Equals(value, Arg(0)),
            "ne" or "!=" => !TemplateValues.Equals(value, Arg(0)),
            "lt" or "lessthan" or "<" => TemplateValues.Compare(value, Arg(0)) < 0,
            "le" or "<=" => TemplateValues.Compare(value, Arg(0)) <= 0,
            "gt" or "greaterthan" or ">" => TemplateValues.Compare(value, Arg(0)) > 0,
            "ge" or ">=" => TemplateValues.Compare(value, Arg(0)) >= 0,
            "in" => TemplateOperators.Contains(Arg(0), value),
            "sameas" => ReferenceEquals(value, Arg(0)) || (value is null && Arg(0) is null) || (value is bool a && Arg(0) is bool b && a == b),
            "lower" => value is string s && s == s.ToLowerInvariant(),
            "upper" => value is string u && u == u.ToUpperInvariant(),
            "escaped" => false,
            _ => throw new InvalidOperationException($"the test '{name}' is not supported by Rlhf.NET's chat-template engine."),
        };
    }
}
