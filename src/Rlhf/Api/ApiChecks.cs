// Argument checks of the public API: exceptions that name the parameter and its allowed range, as the CLI's errors do.
namespace Rlhf;

internal static class ApiChecks
{
    public static void InRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must lie in [{min}, {max}] (got {value}).");
    }

    public static void InRange(double value, double min, double max, string name)
    {
        if (!(value >= min && value <= max))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must lie in [{min}, {max}] (got {value}).");
    }

    /// <summary>
    /// Runs a settings object's own check; its message (naming the TRL setting, range and value) becomes an
    /// <see cref="ArgumentOutOfRangeException"/> for <paramref name="name"/> unless it already names a parameter's range.
    /// </summary>
    public static void Valid(Action validate, string name)
    {
        try { validate(); }
        catch (ArgumentException e) when (e is not ArgumentOutOfRangeException) { throw new ArgumentOutOfRangeException(name, e.Message); }
    }

    /// <summary>Null and empty checks for a list of examples, naming the first null element.</summary>
    public static void NotEmpty<T>(IReadOnlyList<T>? items, string name) where T : class
    {
        ArgumentNullException.ThrowIfNull(items, name);
        if (items.Count == 0) throw new ArgumentException($"{name} is empty; give at least one example.", name);
        for (int i = 0; i < items.Count; i++)
            if (items[i] is null) throw new ArgumentNullException(name, $"{name}[{i}] is null.");
    }
}
