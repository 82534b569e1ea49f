// tokenizer.json "pre_tokenizer" steps: ByteLevel, Split (regex/string, behaviours), Digits, Metaspace, Sequence.
using System.Text.RegularExpressions;

namespace Rlhf.Text.Pipeline;

/// <summary>Cuts a normalized piece into words for the BPE model (tokenizers' <c>pre_tokenizers</c> module).
/// <paramref name="sectionIndex"/> is the piece's position among the pieces the added tokens cut the text into
/// (Metaspace's <c>prepend_scheme: "first"</c> only prepends to piece 0).</summary>
internal abstract class PreTokenizer
{
    public abstract void Split(string text, int sectionIndex, List<string> words);

    /// <summary>Applies this step to each word of <paramref name="words"/> in place.</summary>
    public void SplitAll(List<string> words, int sectionIndex)
    {
        var input = words.ToArray();
        words.Clear();
        foreach (string word in input) Split(word, sectionIndex, words);
    }
}

/// <summary>ByteLevel: optional leading space, optional GPT-2 regex split. The byte → character mapping itself is
/// done by the model (the vocabulary is byte-level), so words stay raw text here.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public bool IsGpt2 => !addPrefixSpace && useRegex;

    public override void Split(string text, int sectionIndex, List<string> words)
    {
        if (addPrefixSpace && !text.StartsWith(' ')) text = " " + text;
        if (!useRegex)
        {
            if (text.Length > 0) words.Add(text);
            return;
        }
        foreach (var match in ByteLevel.PreTokenizer().EnumerateMatches(text)) words.Add(text.Substring(match.Index, match.Length));
    }
}

/// <summary>How Split treats the matches (tokenizers' <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior { Isolated, Removed, MergedWithPrevious, MergedWithNext }

/// <summary>Split on a pattern: Llama 3's and Qwen2's word regexes (Isolated), or a literal string.
/// <paramref name="invert"/>: the matches are the words and the text between them is dropped.</summary>
internal sealed class SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void Split(string text, int sectionIndex, List<string> words)
    {
        if (invert)
        {
            foreach (var match in pattern.EnumerateMatches(text))
                if (match.Length > 0) words.Add(text.Substring(match.Index, match.Length));
            return;
        }
        int previous = 0;
        string? pending = null; // MergedWithNext: a delimiter waiting for the text after it
        foreach (var match in pattern.EnumerateMatches(text))
        {
            if (match.Length == 0) continue;
            string before = text[previous..match.Index];
            string delimiter = text.Substring(match.Index, match.Length);
            previous = match.Index + match.Length;
            switch (behavior)
            {
                case SplitBehavior.Isolated:
                    if (before.Length > 0) words.Add(before);
                    words.Add(delimiter);
                    break;
                case SplitBehavior.Removed:
                    if (before.Length > 0) words.Add(before);
                    break;
                case SplitBehavior.MergedWithPrevious:
                    words.Add(before + delimiter);
                    break;
                case SplitBehavior.MergedWithNext:
                    if (pending is not null || before.Length > 0) words.Add((pending ?? "") + before);
                    pending = delimiter;
                    break;
            }
        }
        string rest = text[previous..];
        if (pending is not null) words.Add(pending + rest);
        else if (rest.Length > 0) words.Add(rest);
    }
}

/// <summary>Digits: numbers apart from the rest; <c>individual_digits</c> (SmolLM2) makes each digit a word.
/// "Numeric" is Unicode's N categories, as Rust's <c>char::is_numeric</c>.</summary>
internal sealed partial class DigitsPreTokenizer(bool individualDigits) : PreTokenizer
{
    [GeneratedRegex(@"\p{N}|[^\p{N}]+", RegexOptions.CultureInvariant)]
    private static partial Regex Individual();

    [GeneratedRegex(@"\p{N}+|[^\p{N}]+", RegexOptions.CultureInvariant)]
    private static partial Regex Contiguous();

    public override void Split(string text, int sectionIndex, List<string> words)
    {
        foreach (var match in (individualDigits ? Individual() : Contiguous()).EnumerateMatches(text))
            words.Add(text.Substring(match.Index, match.Length));
    }
}

/// <summary>When Metaspace prepends its replacement character (tokenizers' <c>PrependScheme</c>).</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>Metaspace (SentencePiece style): spaces become "▁", one is prepended; <c>split</c> starts a word at each "▁".</summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : PreTokenizer
{
    public override void Split(string text, int sectionIndex, List<string> words)
    {
        string replaced = text.Replace(' ', replacement);
        if (!replaced.StartsWith(replacement) && (scheme == PrependScheme.Always || (scheme == PrependScheme.First && sectionIndex == 0)))
        {
            replaced = replacement + replaced;
        }
        if (!split)
        {
            if (replaced.Length > 0) words.Add(replaced);
            return;
        }
        int start = 0;
        for (int i = 1; i <= replaced.Length; i++)
        {
            if (i == replaced.Length || replaced[i] == replacement)
            {
                words.Add(replaced[start..i]);
                start = i;
            }
        }
    }
}

internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> Steps => steps;

    public override void Split(string text, int sectionIndex, List<string> words)
    {
        var current = new List<string> { text };
        foreach (var step in Steps) step.SplitAll(current, sectionIndex);
        words.AddRange(current);
    }
}
