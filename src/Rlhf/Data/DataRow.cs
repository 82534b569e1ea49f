// One row of a data file (a JSON object) with its location, plus typed field accessors whose errors name that location.
using System.Text.Json;

namespace Rlhf.Data;

/// <summary>
/// A JSON object read from <paramref name="Source"/>. <paramref name="Number"/> is the 1-based line for JSON Lines
/// files and the 1-based element index for JSON arrays (<paramref name="IsArrayElement"/>).
/// </summary>
internal sealed record DataRow(string Source, int Number, bool IsArrayElement, JsonElement Value)
{
    /// <summary>True for a row of a table file (Parquet), whose <see cref="Number"/> is the 1-based row.</summary>
    public bool IsTableRow { get; private init; }

    /// <summary><c>data.jsonl:17</c>, <c>data.json:element 3</c> or <c>train.parquet:row 5</c>.</summary>
    public string Location => IsTableRow ? $"{Source}:row {Number}" : FormatLocation(Source, Number, IsArrayElement);

    /// <summary>Row <paramref name="number"/> (1-based) of the table file <paramref name="source"/>.</summary>
    internal static DataRow TableRow(string source, int number, JsonElement value) => new(source, number, false, value) { IsTableRow = true };

    internal static string FormatLocation(string source, int number, bool isArrayElement) =>
        isArrayElement ? $"{source}:element {number}" : $"{source}:{number}";

    /// <summary>True when the row has a field named <paramref name="name"/> (of any type, null included).</summary>
    public bool Has(string name) => Value.TryGetProperty(name, out _);

    /// <summary>True when the field exists and is not JSON null.</summary>
    public bool HasValue(string name) => Value.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>The string field <paramref name="name"/>; throws <see cref="DataFormatException"/> if missing or not a string.</summary>
    public string GetString(string name)
    {
        var value = GetRequired(name);
        if (value.ValueKind != JsonValueKind.String)
            throw WrongType(name, "a string", value);
        return value.GetString()!;
    }

    /// <summary>The optional number field <paramref name="name"/> (null when absent or JSON null).</summary>
    public double? GetOptionalNumber(string name)
    {
        if (!Value.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double d) || !double.IsFinite(d))
            throw WrongType(name, "a finite number", value);
        return d;
    }

    /// <summary>The array field <paramref name="name"/>; throws if missing or not an array.</summary>
    public JsonElement GetArray(string name)
    {
        var value = GetRequired(name);
        if (value.ValueKind != JsonValueKind.Array)
            throw WrongType(name, "an array", value);
        return value;
    }

    /// <summary>The field, which must be present and not null.</summary>
    public JsonElement GetRequired(string name)
    {
        if (!Value.TryGetProperty(name, out var value))
            throw Error($"missing field '{name}'", $"field '{name}' is missing; present fields: {FieldList()}");
        if (value.ValueKind == JsonValueKind.Null)
            throw Error($"field '{name}' is null", $"field '{name}' is null; it must hold a value");
        return value;
    }

    /// <summary>A <see cref="DataFormatException"/> located at this row.</summary>
    public DataFormatException Error(string reason, string detail) => new(Location, reason, detail);

    internal DataFormatException WrongType(string name, string expected, JsonElement found) =>
        Error($"field '{name}' is not {expected}", $"field '{name}' must be {expected} (found {Describe(found.ValueKind)})");

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    internal string FieldList()
    {
        var names = Value.EnumerateObject().Select(p => $"'{Rlhf.Models.JsonText.Clip(p.Name, 40)}'").Take(20).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }
}
