// Seeded mutations of file contents: byte flips, truncations, insertions, hostile JSON values, huge tokens, bad text.
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rlhf.Tests.Fuzz;

/// <summary>One mutation, named for the report, applied to the bytes of one file.</summary>
internal sealed record Mutation(string Name, byte[] Bytes);

/// <summary>Makes a mutation of a file from a seeded <see cref="Random"/>; the same seed gives the same bytes.</summary>
internal static partial class Mutator
{
    /// <summary>Values a hostile or unlucky user puts into a JSON field.</summary>
    private static readonly string[] AbsurdValues =
    [
        "0", "-1", "1", "2", "3", "2147483647", "2147483648", "-2147483648", "4294967296", "1e30", "-1e30", "1e400", "1.5", "0.0",
        "\"abc\"", "\"\"", "null", "true", "[]", "{}", "[1,2]", "\"\\ud800\"", "\"" + new string('x', 5000) + "\"",
    ];

    public static Mutation Bytes(Random random, byte[] original)
    {
        var bytes = (byte[])original.Clone();
        switch (random.Next(6))
        {
            case 0:
                int flips = 1 + random.Next(4);
                for (int i = 0; i < flips && bytes.Length > 0; i++) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return new("bit flip", bytes);
            case 1:
                return new("truncate", bytes[..random.Next(bytes.Length + 1)]);
            case 2:
                int at = random.Next(bytes.Length + 1);
                var inserted = new byte[1 + random.Next(16)];
                random.NextBytes(inserted);
                return new("insert bytes", [.. bytes[..at], .. inserted, .. bytes[at..]]);
            case 3:
                var tail = new byte[1 + random.Next(64)];
                random.NextBytes(tail);
                return new("append bytes", [.. bytes, .. tail]);
            case 4:
                if (bytes.Length > 0) bytes[random.Next(bytes.Length)] = (byte)(0x80 + random.Next(0x80)); // a stray non-UTF-8 byte
                return new("invalid UTF-8", bytes);
            default:
                if (bytes.Length < 2) return new("empty", []);
                int from = random.Next(bytes.Length), length = random.Next(Math.Min(64, bytes.Length - from) + 1);
                return new("delete span", [.. bytes[..from], .. bytes[(from + length)..]]);
        }
    }

    /// <summary>A JSON object file with one value replaced (at any depth), a key removed, or a lone surrogate / huge key added.</summary>
    public static Mutation Json(Random random, byte[] original)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(original);
        }
        catch (System.Text.Json.JsonException)
        {
            return Bytes(random, original);
        }
        if (root is not JsonObject top || random.Next(5) == 0) return Bytes(random, original);
        var objects = new List<JsonObject>();
        Collect(root, objects);
        var target = objects[random.Next(objects.Count)];
        string text;
        switch (random.Next(4))
        {
            case 0 when target.Count > 0:
                string removed = target.ElementAt(random.Next(target.Count)).Key;
                target.Remove(removed);
                return new($"remove key '{Short(removed)}'", Encoding.UTF8.GetBytes(top.ToJsonString()));
            case 1:
                // A raw value spliced in as text, so invalid escapes and huge numbers survive.
                string key = target.Count > 0 ? target.ElementAt(random.Next(target.Count)).Key : "x";
                string value = AbsurdValues[random.Next(AbsurdValues.Length)];
                target[key] = 0xC0FFEE;
                text = top.ToJsonString().Replace("12648430", value);
                return new($"'{Short(key)}' = {Short(value)}", Encoding.UTF8.GetBytes(text));
            case 2:
                target["\ue000marker"] = 1;
                string hostileKey = random.Next(2) == 0 ? "\\udc00" : new string('k', 100_000);
                text = top.ToJsonString().Replace("\\uE000marker", hostileKey, StringComparison.OrdinalIgnoreCase).Replace("\ue000marker", hostileKey);
                return new(hostileKey.Length > 10 ? "huge key" : "lone surrogate key", Encoding.UTF8.GetBytes(text));
            default:
                // Numbers anywhere replaced by absurd ones (ids, shapes, offsets).
                int count = 0, pick = -1;
                string json = top.ToJsonString();
                var numbers = Number().Matches(json);
                if (numbers.Count == 0) return Bytes(random, original);
                pick = random.Next(numbers.Count);
                string replacement = AbsurdValues[random.Next(10)];
                text = Number().Replace(json, m => count++ == pick ? replacement : m.Value);
                return new($"number -> {replacement}", Encoding.UTF8.GetBytes(text));
        }
    }

    /// <summary>Text lines (merges.txt, JSON Lines): a line removed, doubled, emptied, replaced by a huge or malformed one.</summary>
    public static Mutation Lines(Random random, byte[] original)
    {
        if (random.Next(4) == 0) return Bytes(random, original);
        var lines = Encoding.UTF8.GetString(original).Split('\n').ToList();
        int at = random.Next(lines.Count);
        switch (random.Next(6))
        {
            case 0:
                lines.RemoveAt(at);
                return new("remove line", Join(lines));
            case 1:
                lines.Insert(at, lines[at]);
                return new("duplicate line", Join(lines));
            case 2:
                return new("empty file", []);
            case 3:
                lines[at] = new string('x', 1 + random.Next(2_000_000)) + (random.Next(2) == 0 ? " y" : "");
                return new("huge line", Join(lines));
            case 4:
                lines[at] = random.Next(3) switch { 0 => "a b c", 1 => " ", _ => "\u0000\u0001" };
                return new("malformed line", Join(lines));
            default:
                lines = lines.Take(random.Next(lines.Count + 1)).ToList();
                return new("keep first lines", Join(lines));
        }
    }

    private static byte[] Join(List<string> lines) => Encoding.UTF8.GetBytes(string.Join('\n', lines));

    private static void Collect(JsonNode node, List<JsonObject> objects)
    {
        if (node is JsonObject o)
        {
            objects.Add(o);
            foreach (var (_, child) in o)
                if (child is not null) Collect(child, objects);
        }
        else if (node is JsonArray a)
            foreach (var child in a.Take(50))
                if (child is not null) Collect(child, objects);
    }

    private static string Short(string text) => text.Length <= 24 ? text : text[..24] + "…";

    [GeneratedRegex(@"(?<![\w.""])-?\d+(\.\d+)?(?![\w""])")]
    private static partial Regex Number();
}
