// Reading a call's positional and keyword arguments by position or name, as Python binds them.
namespace Rlhf.Text.Templates;

internal readonly struct TemplateArguments(string callee, List<object?> positional, Dictionary<string, object?> keywords)
{
    public List<object?> Positional { get; } = positional;
    public Dictionary<string, object?> Keywords { get; } = keywords;

    /// <summary>The argument at <paramref name="position"/> or named <paramref name="name"/>, else the fallback.</summary>
    public object? Get(int position, string name, object? fallback = null)
    {
        if (position < Positional.Count) return Positional[position];
        return Keywords.TryGetValue(name, out var value) ? value : fallback;
    }

    public bool Has(int position, string name) => position < Positional.Count || Keywords.ContainsKey(name);

    public object? Required(int position, string name) =>
        Has(position, name) ? Get(position, name) : throw new InvalidOperationException($"{callee}() is missing its argument '{name}'.");

    public string String(int position, string name, string? fallback = null) => Get(position, name, fallback) switch
    {
        string s => s,
        null when fallback is null && !Has(position, name) => throw new InvalidOperationException($"{callee}() is missing its argument '{name}'."),
        var other => throw new InvalidOperationException($"{callee}() expects a string for '{name}', got {TemplateValues.TypeName(other)}."),
    };

    public bool Bool(int position, string name, bool fallback = false) => TemplateValues.Truthy(Get(position, name, fallback));

    public void MaxPositional(int count)
    {
        if (Positional.Count > count) throw new InvalidOperationException($"{callee}() takes at most {count} positional argument(s), got {Positional.Count}.");
    }
}
