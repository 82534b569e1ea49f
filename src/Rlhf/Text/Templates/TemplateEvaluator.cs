// Walks a parsed template with jinja2's semantics: scopes (a for loop or macro has its own; `if` does not),
// `loop`, break/continue, namespaces, macros, and Python's operator rules. Errors carry the line they occur on.
using System.Text;

namespace Rlhf.Text.Templates;

internal sealed class TemplateEvaluator
{
    private enum Signal { None, Break, Continue }

    /// <summary>frames[0] holds the globals, frames[1] the context and the template's own top-level variables.</summary>
    private List<Dictionary<string, object?>> frames;

    public TemplateEvaluator(Dictionary<string, object?> globals, Dictionary<string, object?> context)
    {
        frames = [globals, new Dictionary<string, object?>(context, StringComparer.Ordinal)];
    }

    public string Render(List<Node> nodes)
    {
        var output = new StringBuilder();
        if (Execute(nodes, output) != Signal.None) throw new TemplateError(nodes.Count > 0 ? nodes[0].Line : 1, "break/continue outside a loop.");
        return output.ToString();
    }

    private static TemplateError Fail(Node node, string message) => new(node.Line, message);

    private Signal Execute(List<Node> nodes, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            Signal signal;
            try
            {
                signal = ExecuteOne(node, output);
            }
            catch (TemplateError) { throw; }
            catch (Exception e) when (e is InvalidOperationException or DivideByZeroException or InvalidCastException or ArgumentException or FormatException or OverflowException)
            {
                throw Fail(node, e.Message);
            }
            if (signal != Signal.None) return signal;
        }
        return Signal.None;
    }

    private Signal ExecuteOne(Node node, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Signal.None;
            case OutputNode print:
                output.Append(TemplateValues.ToStr(Evaluate(print.Value)));
                return Signal.None;
            case IfNode branch:
                foreach (var (condition, body) in branch.Branches)
                    if (TemplateValues.Truthy(Evaluate(condition))) return Execute(body, output);
                return branch.Else is null ? Signal.None : Execute(branch.Else, output);
            case ForNode loop:
                RunFor(loop, output);
                return Signal.None;
            case SetNode set:
                Assign(set, Evaluate(set.Value));
                return Signal.None;
            case SetBlockNode block:
                var captured = new StringBuilder();
                Execute(block.Body, captured);
                frames[^1][block.Target] = captured.ToString();
                return Signal.None;
            case MacroNode macro:
                frames[^1][macro.Name] = MakeMacro(macro);
                return Signal.None;
            case BreakNode: return Signal.Break;
            case ContinueNode: return Signal.Continue;
            default:
                throw Fail(node, $"unexpected {node.GetType().Name}.");
        }
    }

    private void Assign(SetNode set, object? value)
    {
        if (set.Attribute is not null)
        {
            var target = Lookup(set.Targets[0]);
            if (target is not Namespace ns) throw Fail(set, $"cannot set '{set.Attribute}' on '{set.Targets[0]}': only a namespace() takes attributes.");
            ns.Attributes[set.Attribute] = value;
            return;
        }
        if (set.Targets.Count == 1)
        {
            frames[^1][set.Targets[0]] = value;
            return;
        }
        var items = TemplateValues.Iterate(value);
        if (items.Count != set.Targets.Count) throw Fail(set, $"cannot unpack {items.Count} values into {set.Targets.Count} names.");
        for (int i = 0; i < items.Count; i++) frames[^1][set.Targets[i]] = items[i];
    }

    private void RunFor(ForNode loop, StringBuilder output)
    {
        var source = Evaluate(loop.Iterable);
        if (source is null) throw Fail(loop, "'NoneType' object is not iterable.");
        var items = TemplateValues.Iterate(source);
        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        frames.Add(scope);
        try
        {
            if (loop.Filter is not null)
                items = [.. items.Where(item => { Bind(loop, scope, item); return TemplateValues.Truthy(Evaluate(loop.Filter)); })];
            if (items.Count == 0)
            {
                if (loop.Else is not null) Execute(loop.Else, output);
                return;
            }
            var context = new LoopContext(items);
            for (int i = 0; i < items.Count; i++)
            {
                context.Index0 = i;
                Bind(loop, scope, items[i]);
                scope["loop"] = context;
                if (Execute(loop.Body, output) == Signal.Break) break;
            }
        }
        finally
        {
            frames.RemoveAt(frames.Count - 1);
        }
    }

    private void Bind(ForNode loop, Dictionary<string, object?> scope, object? item)
    {
        if (loop.Targets.Count == 1)
        {
            scope[loop.Targets[0]] = item;
            return;
        }
        var parts = TemplateValues.Iterate(item);
        if (parts.Count != loop.Targets.Count) throw Fail(loop, $"cannot unpack {parts.Count} values into {loop.Targets.Count} loop variables.");
        for (int i = 0; i < parts.Count; i++) scope[loop.Targets[i]] = parts[i];
    }

    /// <summary>A macro runs in a fresh scope over the template's top level, its parameters bound as Python binds them.</summary>
    private TemplateFunction MakeMacro(MacroNode macro) => new(macro.Name, (args, kwargs) =>
    {
        if (args.Count > macro.Parameters.Count) throw new InvalidOperationException($"macro '{macro.Name}' takes {macro.Parameters.Count} arguments, got {args.Count}.");
        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        var saved = frames;
        frames = [saved[0], saved[1], scope];
        try
        {
            for (int i = 0; i < macro.Parameters.Count; i++)
            {
                var (name, fallback) = macro.Parameters[i];
                scope[name] = i < args.Count ? args[i] : kwargs.TryGetValue(name, out var v) ? v : fallback is null ? new Undefined(name) : Evaluate(fallback);
            }
            var output = new StringBuilder();
            Execute(macro.Body, output);
            return output.ToString();
        }
        finally
        {
            frames = saved;
        }
    });

    private object? Lookup(string name)
    {
        for (int i = frames.Count - 1; i >= 0; i--)
            if (frames[i].TryGetValue(name, out var value)) return value;
        return new Undefined(name);
    }

    public object? Evaluate(Expr expr)
    {
        switch (expr)
        {
            case LiteralExpr literal: return literal.Value;
            case NameExpr name: return Lookup(name.Name);
            case ListExpr list:
                var items = list.Items.Select(Evaluate).ToList();
                return list.IsTuple ? new TemplateTuple(items) : items;
            case DictExpr dict:
                var result = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, value) in dict.Items)
                    result[Evaluate(key) as string ?? throw Fail(key, "dictionary keys must be strings here.")] = Evaluate(value);
                return result;
            case AttributeExpr attribute: return TemplateMembers.GetAttribute(Evaluate(attribute.Target), attribute.Name);
            case IndexExpr index: return TemplateMembers.GetItem(Evaluate(index.Target), Evaluate(index.Index));
            case SliceExpr slice:
                return TemplateMembers.Slice(Evaluate(slice.Target), Optional(slice.Start), Optional(slice.Stop), Optional(slice.Step));
            case CallExpr call: return Call(call);
            case FilterExpr filter:
                var (arguments, keywords) = Arguments(filter.Arguments, filter.Keywords);
                return TemplateFilters.Apply(filter.Name, Evaluate(filter.Value), new TemplateArguments(filter.Name, arguments, keywords));
            case TestExpr test:
                bool passed = TemplateTests.Apply(test.Name, Evaluate(test.Value), [.. test.Arguments.Select(Evaluate)]);
                return passed != test.Negated;
            case UnaryExpr unary:
                var operand = Evaluate(unary.Operand);
                return unary.Operator switch
                {
                    "not" => !TemplateValues.Truthy(operand),
                    "-" => operand switch { long l => (object)(-l), double d => -d, bool b => b ? -1L : 0L, _ => throw Fail(unary, $"bad operand type for unary -: '{TemplateValues.TypeName(operand)}'.") },
                    _ => TemplateValues.IsNumber(operand) ? operand : throw Fail(unary, $"bad operand type for unary +: '{TemplateValues.TypeName(operand)}'."),
                };
            case BinaryExpr binary: return Binary(binary);
            case ConditionalExpr conditional:
                if (TemplateValues.Truthy(Evaluate(conditional.Condition))) return Evaluate(conditional.Then);
                return conditional.Else is null ? new Undefined("conditional") : Evaluate(conditional.Else);
            default:
                throw Fail(expr, $"unexpected {expr.GetType().Name}.");
        }
    }

    private object? Optional(Expr? expr) => expr is null ? null : Evaluate(expr);

    private object? Binary(BinaryExpr binary)
    {
        var left = Evaluate(binary.Left);
        switch (binary.Operator)
        {
            case "and": return TemplateValues.Truthy(left) ? Evaluate(binary.Right) : left;
            case "or": return TemplateValues.Truthy(left) ? left : Evaluate(binary.Right);
        }
        var right = Evaluate(binary.Right);
        return binary.Operator switch
        {
            "==" => TemplateValues.Equals(left, right),
            "!=" => !TemplateValues.Equals(left, right),
            "<" => TemplateValues.Compare(left, right) < 0,
            "<=" => TemplateValues.Compare(left, right) <= 0,
            ">" => TemplateValues.Compare(left, right) > 0,
            ">=" => TemplateValues.Compare(left, right) >= 0,
            _ => TemplateOperators.Apply(binary.Operator, left, right),
        };
    }

    private (List<object?>, Dictionary<string, object?>) Arguments(List<Expr> positional, List<(string Name, Expr Value)> keywords)
    {
        var values = positional.Select(Evaluate).ToList();
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in keywords) named[name] = Evaluate(value);
        return (values, named);
    }

    private object? Call(CallExpr call)
    {
        var callee = Evaluate(call.Function);
        var (arguments, keywords) = Arguments(call.Arguments, call.Keywords);
        return callee switch
        {
            TemplateFunction function => function.Invoke(arguments, keywords),
            Undefined u => throw Fail(call, $"'{u.Name}' is undefined and cannot be called (an unsupported function or method?)."),
            _ => throw Fail(call, $"'{TemplateValues.TypeName(callee)}' object is not callable."),
        };
    }
}
