// Recursive-descent parser for the part of Jinja chat templates use, with jinja2's operator precedence
// (condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix/filters/tests).
using System.Globalization;

namespace Rlhf.Text.Templates;

internal sealed class TemplateParser
{
    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", ">", "<=", ">="];
    private readonly List<TemplateToken> tokens;
    private int index;

    private TemplateParser(List<TemplateToken> tokens) => this.tokens = tokens;

    public static List<Node> Parse(string source)
    {
        var parser = new TemplateParser(TemplateLexer.Tokenize(source));
        var (body, end) = parser.ParseBody([]);
        if (end is not null) throw new TemplateError(parser.Current.Line, $"unexpected '{{% {end} %}}'.");
        return body;
    }

    private TemplateToken Current => tokens[index];
    private TemplateToken Peek(int ahead = 1) => tokens[Math.Min(index + ahead, tokens.Count - 1)];
    private TemplateToken Next() => tokens[index++];

    private static TemplateError Error(TemplateToken at, string message) => new(at.Line, message);

    private TemplateToken Expect(TokenKind kind, string? value = null)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
            throw Error(token, $"expected {(value is null ? kind.ToString().ToLowerInvariant() : $"'{value}'")} but found {token}.");
        return Next();
    }

    private string ExpectName() => Expect(TokenKind.Name).Value;

    /// <summary>Nodes until one of the end tags (returned, its name consumed) or the end of the template (null).</summary>
    private (List<Node> Body, string? End) ParseBody(string[] endTags)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfInput:
                    if (endTags.Length > 0) throw Error(token, $"the template ends before '{{% {endTags[^1]} %}}'.");
                    return (nodes, null);
                case TokenKind.Text:
                    nodes.Add(new TextNode(token.Line, token.Value));
                    Next();
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    nodes.Add(new OutputNode(token.Line, ParseExpression()));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind == TokenKind.Name && endTags.Contains(name.Value))
                    {
                        index += 2;
                        return (nodes, name.Value);
                    }
                    Next();
                    ParseStatement(nodes);
                    break;
                default:
                    throw Error(token, $"unexpected {token}.");
            }
        }
    }

    private void ParseStatement(List<Node> nodes)
    {
        var keyword = Expect(TokenKind.Name);
        switch (keyword.Value)
        {
            case "if": nodes.Add(ParseIf(keyword.Line)); break;
            case "for": nodes.Add(ParseFor(keyword.Line)); break;
            case "set": nodes.Add(ParseSet(keyword.Line)); break;
            case "macro": nodes.Add(ParseMacro(keyword.Line)); break;
            case "break": Expect(TokenKind.BlockEnd); nodes.Add(new BreakNode(keyword.Line)); break;
            case "continue": Expect(TokenKind.BlockEnd); nodes.Add(new ContinueNode(keyword.Line)); break;
            case "generation":
                // transformers' {% generation %} marks assistant text for return_assistant_tokens_mask; it renders its body.
                Expect(TokenKind.BlockEnd);
                var (body, _) = ParseBody(["endgeneration"]);
                Expect(TokenKind.BlockEnd);
                nodes.AddRange(body);
                break;
            default:
                throw Error(keyword, $"the statement '{{% {keyword.Value} %}}' is not supported by Rlhf.NET's chat-template engine.");
        }
    }

    private IfNode ParseIf(int line)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? otherwise = null;
        var condition = ParseExpression();
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            var (body, end) = ParseBody(["elif", "else", "endif"]);
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            if (end == "else")
            {
                Expect(TokenKind.BlockEnd);
                (otherwise, _) = ParseBody(["endif"]);
            }
            Expect(TokenKind.BlockEnd);
            return new IfNode(line, branches, otherwise);
        }
    }

    private ForNode ParseFor(int line)
    {
        var targets = new List<string> { ExpectName() };
        while (Current.IsOperator(","))
        {
            Next();
            targets.Add(ExpectName());
        }
        Expect(TokenKind.Name, "in");
        var iterable = ParseConditional(allowConditional: false);
        Expr? filter = null;
        if (Current.IsName("if"))
        {
            Next();
            filter = ParseExpression();
        }
        if (Current.IsName("recursive")) throw Error(Current, "recursive loops are not supported.");
        Expect(TokenKind.BlockEnd);
        var (body, end) = ParseBody(["else", "endfor"]);
        List<Node>? otherwise = null;
        if (end == "else")
        {
            Expect(TokenKind.BlockEnd);
            (otherwise, _) = ParseBody(["endfor"]);
        }
        Expect(TokenKind.BlockEnd);
        return new ForNode(line, targets, iterable, filter, body, otherwise);
    }

    private Node ParseSet(int line)
    {
        var targets = new List<string> { ExpectName() };
        string? attribute = null;
        if (Current.IsOperator("."))
        {
            Next();
            attribute = ExpectName();
        }
        while (attribute is null && Current.IsOperator(","))
        {
            Next();
            targets.Add(ExpectName());
        }
        if (Current.Kind == TokenKind.BlockEnd && attribute is null && targets.Count == 1)
        {
            Next();
            var (body, _) = ParseBody(["endset"]);
            Expect(TokenKind.BlockEnd);
            return new SetBlockNode(line, targets[0], body);
        }
        Expect(TokenKind.Operator, "=");
        var value = ParseTupleOrExpression();
        Expect(TokenKind.BlockEnd);
        return new SetNode(line, targets, attribute, value);
    }

    private MacroNode ParseMacro(int line)
    {
        string name = ExpectName();
        var parameters = new List<(string, Expr?)>();
        Expect(TokenKind.Operator, "(");
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            string parameter = ExpectName();
            Expr? fallback = null;
            if (Current.IsOperator("="))
            {
                Next();
                fallback = ParseExpression();
            }
            parameters.Add((parameter, fallback));
        }
        Next();
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(["endmacro"]);
        if (Current.Kind == TokenKind.Name) Next(); // {% endmacro name %}
        Expect(TokenKind.BlockEnd);
        return new MacroNode(line, name, parameters, body);
    }

    // ---- expressions ----

    private Expr ParseTupleOrExpression()
    {
        var first = ParseExpression();
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expr> { first };
        while (Current.IsOperator(","))
        {
            Next();
            items.Add(ParseExpression());
        }
        return new ListExpr(first.Line, items, IsTuple: true);
    }

    public Expr ParseExpression() => ParseConditional(allowConditional: true);

    private Expr ParseConditional(bool allowConditional)
    {
        var value = ParseOr();
        while (allowConditional && Current.IsName("if"))
        {
            int line = Next().Line;
            var condition = ParseOr();
            Expr? otherwise = null;
            if (Current.IsName("else"))
            {
                Next();
                otherwise = ParseConditional(allowConditional: true);
            }
            value = new ConditionalExpr(line, condition, value, otherwise);
        }
        return value;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or")) left = new BinaryExpr(Next().Line, "or", left, ParseAnd());
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and")) left = new BinaryExpr(Next().Line, "and", left, ParseNot());
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not")) return new UnaryExpr(Next().Line, "not", ParseNot());
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var left = ParseMath1();
        Expr? chain = null;
        while (true)
        {
            string op;
            var token = Current;
            if (token.Kind == TokenKind.Operator && CompareOperators.Contains(token.Value)) { op = token.Value; Next(); }
            else if (token.IsName("in")) { op = "in"; Next(); }
            else if (token.IsName("not") && Peek().IsName("in")) { op = "not in"; index += 2; }
            else break;
            var right = ParseMath1();
            // a < b < c is (a < b) and (b < c), as in Python.
            var comparison = new BinaryExpr(token.Line, op, left, right);
            chain = chain is null ? comparison : new BinaryExpr(token.Line, "and", chain, comparison);
            left = right;
        }
        return chain ?? left;
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Line, op.Value, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~")) left = new BinaryExpr(Next().Line, "~", left, ParseMath2());
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Line, op.Value, left, ParsePow());
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilters: true);
        while (Current.IsOperator("**")) left = new BinaryExpr(Next().Line, "**", left, ParseUnary(withFilters: true));
        return left;
    }

    private Expr ParseUnary(bool withFilters)
    {
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Line, op.Value, ParseUnary(withFilters: false));
        }
        else node = ParsePostfix(ParsePrimary());
        return withFilters ? ParseFilters(node) : node;
    }

    private Expr ParseFilters(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                int line = Next().Line;
                string name = ExpectName();
                var (arguments, keywords) = Current.IsOperator("(") ? ParseArguments() : ([], []);
                node = ParsePostfix(new FilterExpr(line, node, name, arguments, keywords));
            }
            else if (Current.IsName("is"))
            {
                int line = Next().Line;
                bool negated = false;
                if (Current.IsName("not")) { Next(); negated = true; }
                string name = ExpectName();
                var arguments = new List<Expr>();
                if (Current.IsOperator("(")) arguments = ParseArguments().Positional;
                else if (StartsTestArgument(Current)) arguments.Add(ParsePostfix(ParsePrimary()));
                node = new TestExpr(line, node, name, arguments, negated);
            }
            else return node;
        }
    }

    private static bool StartsTestArgument(TemplateToken token) =>
        token.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
        || (token.Kind == TokenKind.Name && token.Value is not ("else" or "or" or "and" or "if" or "in" or "not" or "is"))
        || token.IsOperator("[") || token.IsOperator("{");

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                Next();
                var member = Next();
                if (member.Kind == TokenKind.Name) node = new AttributeExpr(member.Line, node, member.Value);
                else if (member.Kind == TokenKind.Integer) node = new IndexExpr(member.Line, node, new LiteralExpr(member.Line, long.Parse(member.Value, CultureInfo.InvariantCulture)));
                else throw Error(member, $"expected an attribute name after '.' but found {member}.");
            }
            else if (token.IsOperator("[")) node = ParseSubscript(node);
            else if (token.IsOperator("("))
            {
                var (arguments, keywords) = ParseArguments();
                node = new CallExpr(token.Line, node, arguments, keywords);
            }
            else return node;
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        int line = Expect(TokenKind.Operator, "[").Line;
        Expr? start = null, stop = null, step = null;
        if (!Current.IsOperator(":")) start = ParseExpression();
        if (!Current.IsOperator(":"))
        {
            Expect(TokenKind.Operator, "]");
            return new IndexExpr(line, target, start!);
        }
        Next();
        if (!Current.IsOperator("]") && !Current.IsOperator(":")) stop = ParseExpression();
        if (Current.IsOperator(":"))
        {
            Next();
            if (!Current.IsOperator("]")) step = ParseExpression();
        }
        Expect(TokenKind.Operator, "]");
        return new SliceExpr(line, target, start, stop, step);
    }

    private (List<Expr> Positional, List<(string, Expr)> Keywords) ParseArguments()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (!Current.IsOperator(")"))
        {
            if (positional.Count + keywords.Count > 0) Expect(TokenKind.Operator, ",");
            if (Current.IsOperator(")")) break;
            if (Current.IsOperator("*")) throw Error(Current, "*args and **kwargs in calls are not supported.");
            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                string name = Next().Value;
                Next();
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0) throw Error(Current, "a positional argument follows a keyword argument.");
                positional.Add(ParseExpression());
            }
        }
        Next();
        return (positional, keywords);
    }

    private Expr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(token.Line, true),
                    "false" or "False" => new LiteralExpr(token.Line, false),
                    "none" or "None" => new LiteralExpr(token.Line, null),
                    _ => new NameExpr(token.Line, token.Value),
                };
            case TokenKind.String:
                string text = token.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value; // adjacent literals concatenate
                return new LiteralExpr(token.Line, text);
            case TokenKind.Integer:
                return new LiteralExpr(token.Line, long.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Float:
                return new LiteralExpr(token.Line, double.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Operator when token.Value == "(":
                if (Current.IsOperator(")")) { Next(); return new ListExpr(token.Line, [], IsTuple: true); }
                var inner = ParseTupleOrExpression();
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                var items = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator("]")) break;
                    items.Add(ParseExpression());
                }
                Next();
                return new ListExpr(token.Line, items, IsTuple: false);
            case TokenKind.Operator when token.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!Current.IsOperator("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator("}")) break;
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression()));
                }
                Next();
                return new DictExpr(token.Line, pairs);
            default:
                throw Error(token, $"unexpected {token} in an expression.");
        }
    }
}
