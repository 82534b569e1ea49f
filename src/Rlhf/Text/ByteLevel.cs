// GPT-2's byte-level building blocks: the reversible byte <-> printable-character map and the pre-tokenizer regex.
using System.Text.RegularExpressions;

namespace Rlhf.Text;

/// <summary>
/// The pieces GPT-2 (<c>encoder.py</c>) and Hugging Face's <c>ByteLevel</c> pre-tokenizer share: <c>bytes_to_unicode</c>
/// and the word-splitting regex.
/// </summary>
internal static partial class ByteLevel
{
    /// <summary>
    /// GPT-2's pre-tokenizer pattern. .NET's <c>\s</c> is the Unicode White_Space set, as in Hugging Face tokenizers
    /// (Oniguruma). .NET matches UTF-16 code units, so letters/digits outside the BMP (rare: 𝐀, 𠀀) count as
    /// "other" characters; round trips are unaffected.
    /// </summary>
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByteTable = BuildCharToByte();

    /// <summary>The compiled (source-generated) pre-tokenizer regex.</summary>
    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    public static partial Regex PreTokenizer();

    /// <summary>The printable character GPT-2 uses for <paramref name="value"/>.</summary>
    public static char ByteToChar(byte value) => ByteToCharTable[value];

    /// <summary>The byte a byte-level character stands for, or false when <paramref name="c"/> is not one of the 256.</summary>
    public static bool TryCharToByte(char c, out byte value) => CharToByteTable.TryGetValue(c, out value);

    /// <summary>
    /// The 256 bytes in GPT-2's vocabulary order: printable ASCII '!'..'~', then '¡'..'¬', '®'..'ÿ', then the remaining
    /// bytes ascending (these map to U+0100 upwards).
    /// </summary>
    public static IReadOnlyList<byte> BytesInVocabularyOrder { get; } = BuildOrder();

    /// <summary>The byte-level string of a token's UTF-8 bytes (what GPT-2 stores in vocab.json).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++) span[i] = ByteToCharTable[source[i]];
        });
    }

    private static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    private static List<byte> BuildOrder()
    {
        var order = new List<byte>(256);
        for (int b = 0; b < 256; b++)
        {
            if (IsPrintable(b)) order.Add((byte)b);
        }
        for (int b = 0; b < 256; b++)
        {
            if (!IsPrintable(b)) order.Add((byte)b);
        }
        return order;
    }

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            table[b] = IsPrintable(b) ? (char)b : (char)(256 + next++);
        }
        return table;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) map[ByteToCharTable[b]] = (byte)b;
        return map;
    }
}
