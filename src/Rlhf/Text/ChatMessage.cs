// One turn of a conversation in TRL's conversational format ({"role": ..., "content": ...}) and its validation.
using System.Text.Json;

namespace Rlhf.Text;

internal sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The roles chat templates know: TRL's conversational datasets use these.</summary>
    public static IReadOnlyList<string> KnownRoles { get; } = ["system", "user", "assistant", "tool"];

    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);

    /// <summary>Reads a JSON array of {"role", "content"} objects; <paramref name="where"/> (e.g. "data.jsonl row 3, field
    /// 'messages'") starts every error, which names the message and what is wrong with it.</summary>
    public static List<ChatMessage> ParseList(JsonElement array, string where)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new FormatException($"{where}: expected a list of messages, got {Describe(array.ValueKind)}.");
        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (var item in array.EnumerateArray())
        {
            index++;
            if (item.ValueKind != JsonValueKind.Object) throw new FormatException($"{where}: message {index} is {Describe(item.ValueKind)}, not an object with \"role\" and \"content\".");
            if (!item.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw new FormatException($"{where}: message {index} has no string \"role\".");
            string name = role.GetString()!;
            if (!KnownRoles.Contains(name))
                throw new FormatException($"{where}: message {index} has the unknown role '{name}'; expected one of {string.Join(", ", KnownRoles)}.");
            if (!item.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                throw new FormatException($"{where}: message {index} ({name}) has {(item.TryGetProperty("content", out var c) ? Describe(c.ValueKind) : "no")} \"content\"; it must be a string.");
            messages.Add(new ChatMessage(name, content.GetString()!));
        }
        if (messages.Count == 0) throw new FormatException($"{where}: the message list is empty.");
        return messages;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        _ => "a boolean",
    };
}
