// The tokens of a Jinja template: text between tags, tag delimiters, and the pieces of expressions inside tags.
namespace Rlhf.Text.Templates;

internal enum TokenKind { Text, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, EndOfInput }

internal readonly record struct TemplateToken(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;
    public bool IsOperator(string op) => Kind == TokenKind.Operator && Value == op;

    public override string ToString() => Kind switch
    {
        TokenKind.EndOfInput => "end of template",
        TokenKind.String => $"string '{Value}'",
        TokenKind.Text => "text",
        _ => $"'{Value}'",
    };
}
