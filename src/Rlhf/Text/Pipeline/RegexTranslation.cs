// Hugging Face tokenizers run their split regexes (Oniguruma) over code points; .NET's Regex walks UTF-16 code units.
namespace Rlhf.Text.Pipeline;

internal static class RegexTranslation
{
    private const string SurrogatePair = @"[\uD800-\uDBFF][\uDC00-\uDFFF]";

    /// <summary>
    /// Makes each negated class <c>[^…]</c> take a whole surrogate pair as one character, as Oniguruma does; otherwise
    /// Llama 3's <c>[^\r\n\p{L}\p{N}]?\p{L}+</c> would take "😀a" apart differently (only half of the pair matches).
    /// Characters outside the BMP count as neither letters nor digits (true of emoji; astral letters such as 𝐀 are
    /// the known difference).
    /// </summary>
    public static string CodePointAware(string pattern)
    {
        var result = new System.Text.StringBuilder(pattern.Length + 64);
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                result.Append(c).Append(pattern[i + 1]);
                i += 2;
                continue;
            }
            if (c == '[')
            {
                int end = ClassEnd(pattern, i);
                string characterClass = pattern[i..(end + 1)];
                if (characterClass.StartsWith("[^", StringComparison.Ordinal)) result.Append("(?:").Append(SurrogatePair).Append('|').Append(characterClass).Append(')');
                else result.Append(characterClass);
                i = end + 1;
                continue;
            }
            result.Append(c);
            i++;
        }
        return result.ToString();
    }

    /// <summary>Index of the ']' closing the class opened at <paramref name="start"/> (a ']' first in the class is literal).</summary>
    private static int ClassEnd(string pattern, int start)
    {
        int i = start + 1;
        if (i < pattern.Length && pattern[i] == '^') i++;
        if (i < pattern.Length && pattern[i] == ']') i++;
        while (i < pattern.Length)
        {
            if (pattern[i] == '\\') i += 2;
            else if (pattern[i] == '[') i = ClassEnd(pattern, i) + 1;
            else if (pattern[i] == ']') return i;
            else i++;
        }
        throw new ArgumentException($"unterminated character class at {start}");
    }
}
