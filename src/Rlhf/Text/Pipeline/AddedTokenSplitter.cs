// Cutting text at added tokens the way tokenizers' AddedVocabulary does: longest match first, lstrip/rstrip,
// single_word; normalized tokens are looked for in the normalized text.
using System.Text.RegularExpressions;

namespace Rlhf.Text.Pipeline;

internal delegate void PieceHandler(ReadOnlySpan<char> piece, AddedToken? token);

/// <summary>Finds a set of added tokens in text: leftmost match, longest token first at the same position.</summary>
internal sealed class AddedTokenSplitter
{
    private readonly Regex regex;
    private readonly Dictionary<string, AddedToken>.AlternateLookup<ReadOnlySpan<char>> byContent;

    private AddedTokenSplitter(Dictionary<string, AddedToken> tokens)
    {
        var contents = tokens.Keys.OrderByDescending(c => c.Length).ThenBy(c => c, StringComparer.Ordinal);
        // Alternatives are tried in order, so longer tokens win at the same position (leftmost-longest).
        regex = new Regex(string.Join("|", contents.Select(Regex.Escape)), RegexOptions.CultureInvariant);
        byContent = tokens.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>A splitter for <paramref name="tokens"/> keyed by the text to look for, or null when there are none.</summary>
    public static AddedTokenSplitter? Create(IEnumerable<(string Text, AddedToken Token)> tokens)
    {
        var map = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var (text, token) in tokens)
        {
            if (text.Length > 0) map.TryAdd(text, token);
        }
        return map.Count == 0 ? null : new AddedTokenSplitter(map);
    }

    /// <summary>Calls <paramref name="handler"/> for each non-empty piece between matches (token null) and each match,
    /// in order. A piece before an lstrip token loses its trailing whitespace, one after an rstrip token its leading
    /// whitespace (possibly becoming empty; it is still reported, as tokenizers.js counts it as a section).</summary>
    public void Split(ReadOnlySpan<char> text, PieceHandler handler)
    {
        int start = 0, position = 0;
        bool trimNext = false;
        while (position <= text.Length)
        {
            var enumerator = regex.EnumerateMatches(text, position);
            if (!enumerator.MoveNext()) break;
            var match = enumerator.Current;
            var token = byContent[text.Slice(match.Index, match.Length)];
            if (token.SingleWord && !IsWholeWord(text, match.Index, match.Length))
            {
                position = match.Index + 1;
                continue;
            }
            if (match.Index > start)
            {
                var piece = text[start..match.Index];
                if (trimNext) piece = piece.TrimStart();
                if (token.LStrip) piece = piece.TrimEnd();
                handler(piece, null);
            }
            handler(text.Slice(match.Index, match.Length), token);
            trimNext = token.RStrip;
            start = position = match.Index + match.Length;
        }
        if (start < text.Length) handler(trimNext ? text[start..].TrimStart() : text[start..], null);
    }

    private static bool IsWholeWord(ReadOnlySpan<char> text, int index, int length) =>
        (index == 0 || !IsWordChar(text[index - 1])) && (index + length == text.Length || !IsWordChar(text[index + length]));

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}

/// <summary>The splitters a tokenizer needs: raw-text ones (with and without special tokens) and, when there is a
/// normalizer, the ones for normalized tokens, matched against their normalized content.</summary>
internal sealed class AddedTokenSplitters
{
    private readonly AddedTokenSplitter? rawAll, rawOrdinary, normalizedAll, normalizedOrdinary;

    public AddedTokenSplitters(IReadOnlyList<AddedToken> tokens, TextNormalizer? normalizer)
    {
        bool InNormalized(AddedToken t) => t.Normalized && normalizer is not null;
        var raw = tokens.Where(t => !InNormalized(t)).Select(t => (t.Content, t)).ToList();
        var normalized = tokens.Where(InNormalized).Select(t => (normalizer!.Normalize(t.Content), t)).ToList();
        rawAll = AddedTokenSplitter.Create(raw);
        rawOrdinary = AddedTokenSplitter.Create(raw.Where(x => !x.t.Special));
        normalizedAll = AddedTokenSplitter.Create(normalized);
        normalizedOrdinary = AddedTokenSplitter.Create(normalized.Where(x => !x.t.Special));
    }

    public AddedTokenSplitter? Raw(bool allowSpecialTokens) => allowSpecialTokens ? rawAll : rawOrdinary;

    public AddedTokenSplitter? Normalized(bool allowSpecialTokens) => allowSpecialTokens ? normalizedAll : normalizedOrdinary;
}
