// A parsed Jinja template rendered as transformers renders chat templates: its environment's settings and its
// globals (raise_exception, strftime_now), plus jinja2's range, namespace and dict.
namespace Rlhf.Text.Templates;

internal sealed class JinjaTemplate
{
    private readonly List<Node> nodes;

    public string Name { get; }
    public string Source { get; }

    private JinjaTemplate(string name, string source, List<Node> nodes)
    {
        Name = name;
        Source = source;
        this.nodes = nodes;
    }

    /// <summary>Parses the template; a syntax error or an unsupported construct is a TemplateException naming the line.</summary>
    public static JinjaTemplate Parse(string source, string name)
    {
        try
        {
            return new JinjaTemplate(name, source, TemplateParser.Parse(source));
        }
        catch (TemplateError e)
        {
            throw new TemplateException(name, e.Line, e.Message);
        }
    }

    /// <summary>Renders with the given variables (strings, numbers, bools, null, lists, string-keyed dictionaries,
    /// JsonElements). <paramref name="now"/> is the clock strftime_now reads.</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, DateTime? now = null)
    {
        var context = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in variables) context[key] = Import(value);
        var evaluator = new TemplateEvaluator(Globals(now ?? DateTime.Now), context);
        try
        {
            return evaluator.Render(nodes);
        }
        catch (TemplateError e)
        {
            throw new TemplateException(Name, e.Line, e.Message);
        }
    }

    private static Dictionary<string, object?> Globals(DateTime now) => new(StringComparer.Ordinal)
    {
        ["raise_exception"] = new TemplateFunction("raise_exception", (args, _) =>
            throw new InvalidOperationException("the template raised an exception: " + (args.Count > 0 ? TemplateValues.ToStr(args[0]) : ""))),
        ["strftime_now"] = new TemplateFunction("strftime_now", (args, _) =>
            TemplateStrftime.Format(now, args.Count > 0 && args[0] is string format ? format : throw new InvalidOperationException("strftime_now(format) needs a format string."))),
        ["range"] = new TemplateFunction("range", (args, _) => Range(args)),
        ["namespace"] = new TemplateFunction("namespace", (args, kwargs) =>
        {
            var ns = new Namespace();
            foreach (var arg in args)
                if (arg is Dictionary<string, object?> initial) foreach (var (k, v) in initial) ns.Attributes[k] = v;
            foreach (var (k, v) in kwargs) ns.Attributes[k] = v;
            return ns;
        }),
        ["dict"] = new TemplateFunction("dict", (args, kwargs) =>
        {
            var d = args.Count > 0 && args[0] is Dictionary<string, object?> initial ? new Dictionary<string, object?>(initial, StringComparer.Ordinal) : new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        }),
    };

    private static List<object?> Range(List<object?> args)
    {
        long start = 0, stop, step = 1;
        switch (args.Count)
        {
            case 1: stop = TemplateValues.AsLong(args[0]); break;
            case 2: start = TemplateValues.AsLong(args[0]); stop = TemplateValues.AsLong(args[1]); break;
            case 3: start = TemplateValues.AsLong(args[0]); stop = TemplateValues.AsLong(args[1]); step = TemplateValues.AsLong(args[2]); break;
            default: throw new InvalidOperationException("range() takes 1 to 3 arguments.");
        }
        if (step == 0) throw new InvalidOperationException("range() step must not be zero.");
        var values = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            values.Add(i);
            if (values.Count > 100_000) throw new InvalidOperationException("range() is limited to 100,000 items.");
        }
        return values;
    }

    /// <summary>Turns .NET values into the engine's values (ints to long, lists and dictionaries copied).</summary>
    private static object? Import(object? value) => value switch
    {
        null or string or bool or long or double => value,
        int i => (long)i,
        float f => (double)f,
        System.Text.Json.JsonElement json => TemplateJson.FromJson(json),
        IReadOnlyDictionary<string, object?> dict => dict.ToDictionary(p => p.Key, p => Import(p.Value), StringComparer.Ordinal),
        IDictionary<string, string> strings => strings.ToDictionary(p => p.Key, p => (object?)p.Value, StringComparer.Ordinal),
        System.Collections.IEnumerable sequence => sequence.Cast<object?>().Select(Import).ToList(),
        _ => throw new ArgumentException($"a value of type {value.GetType().Name} cannot be passed to a template."),
    };
}
