// Trains a GPT-2 style byte-level BPE vocabulary from text: word counts, then greedy most-frequent-pair merges.
using System.Text;
using System.Text.RegularExpressions;

namespace Rlhf.Text;

/// <summary>
/// Byte-level BPE training as in Hugging Face's <c>ByteLevelBPETokenizer</c> trainer: the 256 byte tokens (GPT-2
/// order), then merges of the most frequent adjacent pair until the vocabulary is full, then the special tokens.
/// </summary>
internal static class BpeTrainer
{
    /// <summary>
    /// Learns a tokenizer with at most <paramref name="vocabSize"/> tokens (256 bytes + merges + special tokens) from
    /// <paramref name="texts"/>, pre-tokenised with GPT-2's regex. The most frequent pair is merged first; ties go to
    /// the pair whose (left, right) token strings sort first ordinally, so training is deterministic. Merging stops
    /// early when no pair occurs <paramref name="minFrequency"/> times. Special tokens (default
    /// <c>&lt;|endoftext|&gt;</c>) take the last ids; the first is the eos/bos/unk token. Occurrences of special
    /// tokens in the texts are not learned from.
    /// </summary>
    public static BpeTokenizer Train(IEnumerable<string> texts, int vocabSize, IEnumerable<string>? specialTokens = null,
        int minFrequency = 2)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfLessThan(minFrequency, 1);
        var specials = (specialTokens ?? [BpeTokenizer.EndOfText]).ToList();
        if (specials.Any(string.IsNullOrEmpty)) throw new ArgumentException("special tokens must be non-empty", nameof(specialTokens));
        if (specials.Distinct(StringComparer.Ordinal).Count() != specials.Count)
        {
            throw new ArgumentException("special tokens must be distinct", nameof(specialTokens));
        }
        if (vocabSize < 256 + specials.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize,
                $"the vocabulary needs at least 256 byte tokens + {specials.Count} special tokens");
        }

        var words = CountWords(texts, specials);
        var state = new MergeState(words);
        var merges = state.Run(vocabSize - specials.Count, minFrequency);

        var vocabulary = new Dictionary<string, int>(state.Tokens.Count + specials.Count, StringComparer.Ordinal);
        for (int id = 0; id < state.Tokens.Count; id++) vocabulary[state.Tokens[id]] = id;
        var added = new List<AddedToken>();
        foreach (string special in specials)
        {
            // A special token spelled like a learned token (unlikely) keeps the learned id.
            if (!vocabulary.TryGetValue(special, out int id))
            {
                id = vocabulary.Count;
                vocabulary[special] = id;
            }
            added.Add(new AddedToken(id, special, Special: true));
        }
        var tokenizer = new BpeTokenizer(vocabulary, merges, added, "<trained>", rank => $"merge {rank}");
        string? first = specials.Count > 0 ? specials[0] : null;
        return tokenizer.WithSpecialTokens(first, first, first, null);
    }

    /// <summary>Distinct pre-tokenised words (raw text) with their counts, special tokens cut out.</summary>
    private static Dictionary<string, long> CountWords(IEnumerable<string> texts, List<string> specials)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        Regex? splitter = specials.Count == 0
            ? null
            : new Regex(string.Join("|", specials.OrderByDescending(s => s.Length).Select(Regex.Escape)), RegexOptions.CultureInvariant);
        var regex = ByteLevel.PreTokenizer();

        void CountSegment(ReadOnlySpan<char> segment)
        {
            foreach (var match in regex.EnumerateMatches(segment))
            {
                var word = segment.Slice(match.Index, match.Length);
                lookup[word] = lookup.TryGetValue(word, out long count) ? count + 1 : 1;
            }
        }

        foreach (string text in texts)
        {
            if (text is null) throw new ArgumentException("texts must not contain null", nameof(texts));
            if (splitter is null)
            {
                CountSegment(text);
                continue;
            }
            int start = 0;
            foreach (var match in splitter.EnumerateMatches(text))
            {
                CountSegment(text.AsSpan(start, match.Index - start));
                start = match.Index + match.Length;
            }
            CountSegment(text.AsSpan(start));
        }
        return counts;
    }

    /// <summary>Words as symbol-id sequences with pair counts kept up to date incrementally as merges are applied.</summary>
    private sealed class MergeState
    {
        private readonly int[][] symbols;
        private readonly int[] lengths;
        private readonly long[] wordCounts;
        private readonly Dictionary<long, long> pairCounts = [];
        private readonly Dictionary<long, List<int>> pairWords = [];
        private readonly Dictionary<string, int> tokenIds = new(StringComparer.Ordinal);
        private readonly PriorityQueue<long, (long Count, long Pair)> queue;

        public List<string> Tokens { get; } = [];

        public MergeState(Dictionary<string, long> words)
        {
            foreach (byte b in ByteLevel.BytesInVocabularyOrder) AddToken(ByteLevel.ByteToChar(b).ToString());
            var byteIds = new int[256];
            for (int b = 0; b < 256; b++) byteIds[b] = tokenIds[ByteLevel.ByteToChar((byte)b).ToString()];

            symbols = new int[words.Count][];
            lengths = new int[words.Count];
            wordCounts = new long[words.Count];
            int w = 0;
            foreach (var (word, count) in words)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(word);
                var ids = new int[bytes.Length];
                for (int i = 0; i < bytes.Length; i++) ids[i] = byteIds[bytes[i]];
                symbols[w] = ids;
                lengths[w] = ids.Length;
                wordCounts[w] = count;
                for (int i = 0; i + 1 < ids.Length; i++) Change(BpeTokenizer.PairKey(ids[i], ids[i + 1]), count, w);
                w++;
            }

            queue = new PriorityQueue<long, (long Count, long Pair)>(pairCounts.Count, Comparer<(long Count, long Pair)>.Create(Compare));
            foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, pair));
        }

        /// <summary>Merges until <paramref name="targetTokens"/> tokens exist or no pair is frequent enough.</summary>
        public List<(string Left, string Right)> Run(int targetTokens, int minFrequency)
        {
            var merges = new List<(string, string)>();
            var raised = new HashSet<long>();
            while (Tokens.Count < targetTokens && queue.TryDequeue(out long pair, out var priority))
            {
                long current = pairCounts.GetValueOrDefault(pair);
                if (current != priority.Count)
                {
                    if (current > 0) queue.Enqueue(pair, (current, pair)); // stale entry: counts only fall for old pairs
                    continue;
                }
                if (current < minFrequency) break;

                int left = (int)(pair >> 32), right = (int)(uint)pair;
                string merged = Tokens[left] + Tokens[right];
                if (!tokenIds.TryGetValue(merged, out int mergedId)) mergedId = AddToken(merged);
                merges.Add((Tokens[left], Tokens[right]));

                raised.Clear();
                foreach (int word in pairWords[pair]) MergeWord(word, left, right, mergedId, raised);
                pairCounts.Remove(pair);
                pairWords.Remove(pair);
                foreach (long changed in raised)
                {
                    if (pairCounts.TryGetValue(changed, out long count) && count > 0) queue.Enqueue(changed, (count, changed));
                }
            }
            return merges;
        }

        private int AddToken(string token)
        {
            int id = Tokens.Count;
            Tokens.Add(token);
            tokenIds.Add(token, id);
            return id;
        }

        /// <summary>Higher counts first; ties by the left then right token string (ordinal).</summary>
        private int Compare((long Count, long Pair) a, (long Count, long Pair) b)
        {
            int byCount = b.Count.CompareTo(a.Count);
            if (byCount != 0) return byCount;
            int byLeft = string.CompareOrdinal(Tokens[(int)(a.Pair >> 32)], Tokens[(int)(b.Pair >> 32)]);
            if (byLeft != 0) return byLeft;
            return string.CompareOrdinal(Tokens[(int)(uint)a.Pair], Tokens[(int)(uint)b.Pair]);
        }

        private void Change(long pair, long delta, int word)
        {
            long updated = pairCounts.GetValueOrDefault(pair) + delta;
            pairCounts[pair] = updated;
            if (delta > 0)
            {
                if (!pairWords.TryGetValue(pair, out var list)) pairWords[pair] = list = [];
                if (list.Count == 0 || list[^1] != word) list.Add(word);
            }
        }

        /// <summary>Replaces every (left, right) in the word, left to right, adjusting the neighbouring pair counts.</summary>
        private void MergeWord(int word, int left, int right, int mergedId, HashSet<long> raised)
        {
            int[] s = symbols[word];
            int n = lengths[word];
            long count = wordCounts[word];
            int i = 0;
            while (i < n - 1)
            {
                if (s[i] != left || s[i + 1] != right)
                {
                    i++;
                    continue;
                }
                if (i > 0)
                {
                    Change(BpeTokenizer.PairKey(s[i - 1], left), -count, word);
                    long added = BpeTokenizer.PairKey(s[i - 1], mergedId);
                    Change(added, count, word);
                    raised.Add(added);
                }
                if (i + 2 < n)
                {
                    Change(BpeTokenizer.PairKey(right, s[i + 2]), -count, word);
                    long added = BpeTokenizer.PairKey(mergedId, s[i + 2]);
                    Change(added, count, word);
                    raised.Add(added);
                }
                s[i] = mergedId;
                Array.Copy(s, i + 2, s, i + 1, n - i - 2);
                n--;
                i++;
            }
            lengths[word] = n;
        }
    }
}
