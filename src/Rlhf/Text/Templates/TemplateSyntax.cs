// The syntax tree of a parsed template: statements (text, output, if, for, set, macro, ...) and expressions.
namespace Rlhf.Text.Templates;

internal abstract record Node(int Line);

// ---- statements ----
internal sealed record TextNode(int Line, string Text) : Node(Line);
internal sealed record OutputNode(int Line, Expr Value) : Node(Line);
internal sealed record IfNode(int Line, List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else) : Node(Line);
internal sealed record ForNode(int Line, List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else) : Node(Line);
/// <summary>`set name = value`, `set a, b = value` or `set ns.attr = value`.</summary>
internal sealed record SetNode(int Line, List<string> Targets, string? Attribute, Expr Value) : Node(Line);
internal sealed record SetBlockNode(int Line, string Target, List<Node> Body) : Node(Line);
internal sealed record MacroNode(int Line, string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body) : Node(Line);
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);

// ---- expressions ----
internal abstract record Expr(int Line) : Node(Line);
internal sealed record LiteralExpr(int Line, object? Value) : Expr(Line);
internal sealed record NameExpr(int Line, string Name) : Expr(Line);
internal sealed record ListExpr(int Line, List<Expr> Items, bool IsTuple) : Expr(Line);
internal sealed record DictExpr(int Line, List<(Expr Key, Expr Value)> Items) : Expr(Line);
internal sealed record AttributeExpr(int Line, Expr Target, string Name) : Expr(Line);
internal sealed record IndexExpr(int Line, Expr Target, Expr Index) : Expr(Line);
internal sealed record SliceExpr(int Line, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);
internal sealed record CallExpr(int Line, Expr Function, List<Expr> Arguments, List<(string Name, Expr Value)> Keywords) : Expr(Line);
internal sealed record FilterExpr(int Line, Expr Value, string Name, List<Expr> Arguments, List<(string Name, Expr Value)> Keywords) : Expr(Line);
internal sealed record TestExpr(int Line, Expr Value, string Name, List<Expr> Arguments, bool Negated) : Expr(Line);
internal sealed record UnaryExpr(int Line, string Operator, Expr Operand) : Expr(Line);
internal sealed record BinaryExpr(int Line, string Operator, Expr Left, Expr Right) : Expr(Line);
internal sealed record ConditionalExpr(int Line, Expr Condition, Expr Then, Expr? Else) : Expr(Line);
