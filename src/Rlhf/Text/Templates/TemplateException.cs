// A chat template that cannot be parsed or rendered: the message names the template and the line.
namespace Rlhf.Text.Templates;

internal sealed class TemplateException : Exception
{
    public string TemplateName { get; }
    public int Line { get; }

    public TemplateException(string templateName, int line, string message)
        : base($"Template '{templateName}' line {line}: {message}")
    {
        TemplateName = templateName;
        Line = line;
    }
}

/// <summary>Raised inside the engine where the template name is not at hand; the renderer adds it.</summary>
internal sealed class TemplateError(int line, string message) : Exception(message)
{
    public int Line { get; } = line;
}
