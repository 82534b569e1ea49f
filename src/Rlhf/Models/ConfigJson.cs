// Reading and writing config.json values with errors that name the file and the key (shared by every family).
using System.Globalization;
using System.Text.Json;

namespace Rlhf.Models;

internal static class ConfigJson
{
    /// <summary>Parses a config.json; throws <see cref="ModelFormatException"/> naming the file when it cannot be read or is not a JSON object.</summary>
    public static JsonDocument Parse(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the model configuration: {e.Message}", e);
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new ModelFormatException(path, "is not valid UTF-8 text; expected a Hugging Face config.json.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"is not valid JSON ({JsonText.Describe(e)}); expected a Hugging Face config.json.", e);
        }
        if (JsonText.FindUndecodable(document.RootElement) is { } undecodable)
        {
            document.Dispose();
            throw new ModelFormatException(path, JsonText.UndecodableMessage(undecodable));
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new ModelFormatException(path, $"expected a JSON object at the top level, found {kind}.");
        }
        return document;
    }

    /// <summary>config.json's <c>model_type</c>, or null when absent.</summary>
    public static string? ModelType(string path, JsonElement root)
    {
        if (!root.TryGetProperty("model_type", out var modelType) || modelType.ValueKind == JsonValueKind.Null) return null;
        if (modelType.ValueKind != JsonValueKind.String)
            throw new ModelFormatException(path, $"key 'model_type' must be a string, found {Describe(modelType)}.");
        return modelType.GetString();
    }

    /// <summary>The first entry of "architectures", or <paramref name="fallback"/>.</summary>
    public static string Architecture(JsonElement root, string fallback) =>
        root.TryGetProperty("architectures", out var architectures) && architectures.ValueKind == JsonValueKind.Array
        && architectures.GetArrayLength() > 0 && architectures[0].ValueKind == JsonValueKind.String
            ? architectures[0].GetString()! : fallback;

    public static bool TryFind(JsonElement root, string[] keys, out string foundKey, out JsonElement value)
    {
        foreach (string key in keys)
        {
            if (root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null)
            {
                foundKey = key;
                return true;
            }
        }
        foundKey = keys[0];
        value = default;
        return false;
    }

    /// <param name="family">Named in the message for a missing key, e.g. "GPT-2".</param>
    public static int RequiredInt(string path, JsonElement root, string family, params string[] keys)
    {
        if (!TryFind(root, keys, out string key, out var value))
        {
            string aliases = keys.Length > 1 ? $" (or its alias {string.Join(", ", keys.Skip(1).Select(k => $"'{k}'"))})" : "";
            throw new ModelFormatException(path, $"required key '{keys[0]}'{aliases} is missing; add it to the {family} config.");
        }
        return ReadInt(path, key, value);
    }

    public static int? OptionalInt(string path, JsonElement root, string key, int? fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        return ReadInt(path, key, value);
    }

    public static int ReadInt(string path, string key, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result)) return result;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
            return (int)d;
        throw new ModelFormatException(path, $"key '{key}' must be an integer, found {Describe(value)}.");
    }

    public static float OptionalFloat(string path, JsonElement root, string key, float fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Number) return (float)value.GetDouble();
        throw new ModelFormatException(path, $"key '{key}' must be a number, found {Describe(value)}.");
    }

    public static double OptionalDouble(string path, JsonElement root, string key, double fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Number) return value.GetDouble();
        throw new ModelFormatException(path, $"key '{key}' must be a number, found {Describe(value)}.");
    }

    public static bool OptionalBool(string path, JsonElement root, string key, bool fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) return value.GetBoolean();
        throw new ModelFormatException(path, $"key '{key}' must be true or false, found {Describe(value)}.");
    }

    public static string OptionalString(string path, JsonElement root, string key, string fallback)
    {
        if (!TryFind(root, [key], out _, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.String) return value.GetString()!;
        throw new ModelFormatException(path, $"key '{key}' must be a string, found {Describe(value)}.");
    }

    /// <summary>A token id: absent → fallback, null → null; a list (Llama 3's eos_token_id) → its first entry.</summary>
    public static int? OptionalTokenId(string path, JsonElement root, string key, int? fallback)
    {
        if (!root.TryGetProperty(key, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.Array)
            return value.GetArrayLength() == 0 ? null : ReadInt(path, key, value[0]);
        return ReadInt(path, key, value);
    }

    public static void WriteNullable(Utf8JsonWriter json, string key, int? value)
    {
        if (value is int v) json.WriteNumber(key, v);
        else json.WriteNull(key);
    }

    /// <summary>The double whose shortest decimal form is the float's (so 1e-5f is written "1E-05", not 9.99999974737875E-06).</summary>
    public static double Shortest(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{JsonText.Clip(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {JsonText.Clip(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };
}
