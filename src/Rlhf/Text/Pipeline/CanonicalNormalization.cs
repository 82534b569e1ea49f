// NFC and NFD from Unicode's canonical data (unicode_nfc.txt, written by tools/reference/unicode_nfc_table.py): the
// project runs with InvariantGlobalization, where string.Normalize has no tables. Algorithm: UAX #15 (decompose,
// canonical order, compose unblocked pairs; Hangul by arithmetic).
using System.Text;

namespace Rlhf.Text.Pipeline;

internal static class CanonicalNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    private const int NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<Tables> Data = new(Tables.Load);

    /// <summary>Text below U+0300 is unchanged by NFC and NFD (every such character is its own canonical form).</summary>
    private static bool IsTrivial(string text)
    {
        foreach (char c in text)
        {
            if (c >= '\u0300') return false;
        }
        return true;
    }

    public static string Nfd(string text) => IsTrivial(text) ? text : ToString(Decompose(text));

    public static string Nfc(string text) => IsTrivial(text) ? text : ToString(Compose(Decompose(text)));

    private static List<int> Decompose(string text)
    {
        var tables = Data.Value;
        var result = new List<int>(text.Length + 8);
        void Add(int cp)
        {
            if (cp is >= SBase and < SBase + SCount)
            {
                int s = cp - SBase;
                result.Add(LBase + s / NCount);
                result.Add(VBase + s % NCount / TCount);
                if (s % TCount != 0) result.Add(TBase + s % TCount);
                return;
            }
            if (tables.Decomposition.TryGetValue(cp, out var parts))
            {
                foreach (int part in parts) Add(part);
                return;
            }
            result.Add(cp);
        }
        foreach (var rune in text.EnumerateRunes()) Add(rune.Value);

        // Canonical ordering: a stable sort of each run of non-starters by combining class.
        for (int i = 1; i < result.Count; i++)
        {
            int cp = result[i], ccc = tables.Class(cp);
            if (ccc == 0) continue;
            int j = i;
            while (j > 0 && tables.Class(result[j - 1]) > ccc)
            {
                result[j] = result[j - 1];
                j--;
            }
            result[j] = cp;
        }
        return result;
    }

    private static List<int> Compose(List<int> decomposed)
    {
        var tables = Data.Value;
        var result = new List<int>(decomposed.Count);
        int starter = -1;
        foreach (int cp in decomposed)
        {
            int ccc = tables.Class(cp);
            if (starter >= 0)
            {
                bool between = result.Count - 1 > starter;
                int lastClass = between ? tables.Class(result[^1]) : -1;
                bool blocked = between && (lastClass == 0 || lastClass >= ccc);
                if (!blocked && TryCompose(tables, result[starter], cp, out int composed))
                {
                    result[starter] = composed;
                    continue;
                }
            }
            if (ccc == 0) starter = result.Count;
            result.Add(cp);
        }
        return result;
    }

    private static bool TryCompose(Tables tables, int first, int second, out int composed)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            composed = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            composed = first + (second - TBase);
            return true;
        }
        return tables.Composition.TryGetValue(((long)first << 21) | (uint)second, out composed);
    }

    private static string ToString(List<int> codePoints)
    {
        var builder = new StringBuilder(codePoints.Count + 4);
        foreach (int cp in codePoints) builder.Append(char.ConvertFromUtf32(cp));
        return builder.ToString();
    }

    private sealed class Tables
    {
        public Dictionary<int, int[]> Decomposition { get; } = [];
        public Dictionary<int, byte> Classes { get; } = [];
        public Dictionary<long, int> Composition { get; } = [];

        public int Class(int cp) => Classes.TryGetValue(cp, out byte c) ? c : 0;

        public static Tables Load()
        {
            var tables = new Tables();
            var excluded = new HashSet<int>();
            using var stream = typeof(CanonicalNormalization).Assembly.GetManifestResourceStream("Rlhf.Text.Pipeline.unicode_nfc.txt")
                ?? throw new InvalidOperationException("the Unicode table unicode_nfc.txt is missing from the assembly");
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                if (line.Length == 0 || line[0] == '#') continue;
                string[] parts = line.Split(' ');
                int cp = Convert.ToInt32(parts[1], 16);
                switch (parts[0])
                {
                    case "c": tables.Classes[cp] = byte.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture); break;
                    case "d": tables.Decomposition[cp] = [.. parts.Skip(2).Select(p => Convert.ToInt32(p, 16))]; break;
                    case "x": excluded.Add(cp); break;
                }
            }
            foreach (var (cp, parts) in tables.Decomposition)
            {
                if (parts.Length == 2 && !excluded.Contains(cp)) tables.Composition[((long)parts[0] << 21) | (uint)parts[1]] = cp;
            }
            return tables;
        }
    }
}
