// Byte-level BPE tokenizer identical to GPT-2's encoder.py / Hugging Face GPT2Tokenizer: encode, decode, vocabulary.
using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using Rlhf.Models;
using Rlhf.Text.Pipeline;

namespace Rlhf.Text;

/// <summary>
/// BPE as Hugging Face tokenizers runs it: GPT-2 style byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM2) and
/// SentencePiece-style BPE with byte fallback (Llama 2, TinyLlama), with the tokenizer.json pipeline around it
/// (normalizer, pre-tokenizer, post-processor, decoder; see <c>Pipeline/</c>). Immutable and thread-safe (the word
/// cache is shared and locked); load with <see cref="FromFolder"/>, <see cref="FromFiles"/> or
/// <see cref="FromTokenizerJson"/>, train with <see cref="BpeTrainer"/>, write with <see cref="Save"/>.
/// </summary>
internal sealed partial class BpeTokenizer
{
    /// <summary>Words cached before the cache is cleared.</summary>
    private const int CacheCapacity = 1 << 16;

    /// <summary>Longer words are encoded every time rather than cached.</summary>
    private const int MaxCachedWordLength = 128;

    private readonly Dictionary<string, int> tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> tokenLookup;
    private readonly string?[] idToToken;
    private readonly byte[]?[] idToBytes;
    private readonly bool[] isSpecial;
    private readonly (string Left, string Right)[] merges;
    private readonly Dictionary<long, int> mergeRanks;
    private readonly int[] mergeResults;
    private readonly int[] byteToId;
    private readonly AddedToken[] addedTokens;
    private readonly AddedTokenSplitters splitters;
    private readonly WordCache cache;
    private readonly TokenizerPipeline pipeline;

    /// <summary>Largest token id accepted from a file (16× the largest published vocabularies), so that a corrupt id
    /// cannot size the id tables past a few hundred MB.</summary>
    public const int MaxTokenId = (1 << 22) - 1;

    /// <summary>Builds the tables; <paramref name="source"/> names the file for errors, <paramref name="mergeLocation"/>
    /// describes where merge <c>i</c> came from (e.g. "line 7").</summary>
    internal BpeTokenizer(
        IReadOnlyDictionary<string, int> vocabulary,
        IReadOnlyList<(string Left, string Right)> mergeList,
        IEnumerable<AddedToken> added,
        string source,
        Func<int, string> mergeLocation,
        TokenizerPipeline? pipeline = null)
    {
        this.pipeline = pipeline ?? TokenizerPipeline.Gpt2;
        tokenToId = new Dictionary<string, int>(vocabulary.Count + 16, StringComparer.Ordinal);
        int maxId = -1;
        foreach (var (token, id) in vocabulary)
        {
            if (id < 0) throw new ModelFormatException(source, $"token '{JsonText.Clip(token)}' has negative id {id}");
            if (id > MaxTokenId) throw new ModelFormatException(source, $"token '{JsonText.Clip(token)}' has id {id:N0}, above the largest supported id {MaxTokenId:N0}");
            tokenToId.Add(token, id);
            maxId = Math.Max(maxId, id);
        }

        // Added tokens: reuse the vocabulary id when the content is already there; otherwise extend the vocabulary.
        var addedById = new SortedDictionary<int, AddedToken>();
        foreach (var token in added)
        {
            if (string.IsNullOrEmpty(token.Content)) throw new ModelFormatException(source, $"added token {token.Id} is empty");
            if (token.Id < 0 || token.Id > MaxTokenId)
                throw new ModelFormatException(source, $"added token '{JsonText.Clip(token.Content)}' has id {token.Id:N0}, outside 0..{MaxTokenId:N0}");
            if (tokenToId.TryGetValue(token.Content, out int existing) && existing != token.Id)
            {
                throw new ModelFormatException(source,
                    $"added token '{JsonText.Clip(token.Content)}' has id {token.Id} but the vocabulary gives it id {existing}");
            }
            if (addedById.TryGetValue(token.Id, out var previous) && previous.Content != token.Content)
            {
                throw new ModelFormatException(source,
                    $"id {token.Id} is given to both '{JsonText.Clip(previous.Content)}' and '{JsonText.Clip(token.Content)}'");
            }
            tokenToId[token.Content] = token.Id;
            addedById[token.Id] = previous is null ? token : previous with { Special = previous.Special || token.Special };
            maxId = Math.Max(maxId, token.Id);
        }
        addedTokens = [.. addedById.Values];

        idToToken = new string?[maxId + 1];
        foreach (var (token, id) in tokenToId)
        {
            if (idToToken[id] is { } other)
            {
                throw new ModelFormatException(source, $"id {id} is given to both '{JsonText.Clip(other)}' and '{JsonText.Clip(token)}'");
            }
            idToToken[id] = token;
        }
        tokenLookup = tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();

        isSpecial = new bool[idToToken.Length];
        var isAdded = new bool[idToToken.Length];
        foreach (var token in addedTokens)
        {
            isAdded[token.Id] = true;
            isSpecial[token.Id] = token.Special;
        }

        idToBytes = new byte[]?[idToToken.Length];
        for (int id = 0; id < idToToken.Length; id++)
        {
            if (idToToken[id] is { } token)
            {
                idToBytes[id] = isAdded[id] ? Encoding.UTF8.GetBytes(token)
                    : this.pipeline.ByteLevelVocabulary ? TokenBytes(token) : PieceBytes(token);
            }
        }

        byteToId = new int[256];
        for (int b = 0; b < 256; b++)
        {
            byteToId[b] = tokenToId.TryGetValue(ByteLevel.ByteToChar((byte)b).ToString(), out int id) ? id : -1;
        }

        merges = new (string, string)[mergeList.Count];
        mergeRanks = new Dictionary<long, int>(mergeList.Count);
        mergeResults = new int[mergeList.Count];
        for (int rank = 0; rank < mergeList.Count; rank++)
        {
            var (left, right) = mergeList[rank];
            merges[rank] = (left, right);
            int leftId = RequireMergeToken(left, rank);
            int rightId = RequireMergeToken(right, rank);
            mergeResults[rank] = RequireMergeToken(string.Concat(left, right), rank);
            mergeRanks[PairKey(leftId, rightId)] = rank; // a repeated pair keeps its last rank, as in encoder.py
        }

        splitters = new AddedTokenSplitters(addedTokens, this.pipeline.Normalizer);
        cache = new WordCache();

        int RequireMergeToken(string token, int rank) => tokenToId.TryGetValue(token, out int id)
            ? id
            : throw new ModelFormatException(source, $"{mergeLocation(rank)}: merge token '{JsonText.Clip(token)}' is not in the vocabulary");
    }

    /// <summary>A copy sharing the vocabulary, merges and cache, with other named special tokens and, when given, another
    /// list of added tokens (all already in the vocabulary).</summary>
    private BpeTokenizer(BpeTokenizer other, SpecialTokens specials, TokenizerPipeline pipeline)
        : this(other, specials)
    {
        this.pipeline = pipeline;
    }

    private BpeTokenizer(BpeTokenizer other, SpecialTokens specials, AddedToken[]? newAddedTokens = null)
    {
        tokenToId = other.tokenToId;
        tokenLookup = other.tokenLookup;
        idToToken = other.idToToken;
        merges = other.merges;
        mergeRanks = other.mergeRanks;
        mergeResults = other.mergeResults;
        byteToId = other.byteToId;
        cache = other.cache;
        pipeline = other.pipeline;
        ModelMaxLength = other.ModelMaxLength;
        CleanUpTokenizationSpaces = other.CleanUpTokenizationSpaces;
        SourceConfig = other.SourceConfig;
        Specials = specials;
        if (newAddedTokens is null)
        {
            idToBytes = other.idToBytes;
            isSpecial = other.isSpecial;
            addedTokens = other.addedTokens;
            splitters = other.splitters;
        }
        else
        {
            idToBytes = (byte[]?[])other.idToBytes.Clone();
            isSpecial = new bool[other.isSpecial.Length];
            addedTokens = [.. newAddedTokens.OrderBy(t => t.Id)];
            foreach (var token in addedTokens)
            {
                isSpecial[token.Id] = token.Special;
                idToBytes[token.Id] = Encoding.UTF8.GetBytes(token.Content);
            }
            splitters = new AddedTokenSplitters(addedTokens, pipeline.Normalizer);
        }
    }

    /// <summary>Named special tokens (eos/bos/unk/pad), each null or a token of the vocabulary.</summary>
    internal SpecialTokens Specials { get; private init; } = SpecialTokens.None;

    /// <summary>Number of ids: one more than the largest id (vocabulary and added tokens).</summary>
    public int VocabSize => idToToken.Length;

    /// <summary>The merges in rank order (rank 0 is applied first).</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => merges;

    /// <summary>Tokens matched verbatim before pre-tokenisation, by id.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => addedTokens;

    /// <summary><c>model_max_length</c> written to tokenizer_config.json (GPT-2: 1024).</summary>
    public int ModelMaxLength { get; private init; } = 1024;

    /// <summary>End-of-sequence token (GPT-2: &lt;|endoftext|&gt;), or null.</summary>
    public string? EosToken => Specials.Eos;

    /// <summary>Beginning-of-sequence token (GPT-2: &lt;|endoftext|&gt;; GPT-2 does not prepend it), or null.</summary>
    public string? BosToken => Specials.Bos;

    /// <summary>Unknown token, used only for bytes missing from an unusual vocabulary; or null.</summary>
    public string? UnkToken => Specials.Unk;

    /// <summary>Padding token (GPT-2 has none; see <see cref="WithPadToken"/>), or null.</summary>
    public string? PadToken => Specials.Pad;

    /// <summary>Id of <see cref="EosToken"/>.</summary>
    public int? EosTokenId => IdOrNull(Specials.Eos);

    /// <summary>Id of <see cref="BosToken"/>.</summary>
    public int? BosTokenId => IdOrNull(Specials.Bos);

    /// <summary>Id of <see cref="UnkToken"/>.</summary>
    public int? UnkTokenId => IdOrNull(Specials.Unk);

    /// <summary>Id of <see cref="PadToken"/>.</summary>
    public int? PadTokenId => IdOrNull(Specials.Pad);

    /// <summary>This tokenizer with <paramref name="token"/> (which must be in the vocabulary, or null) as padding token.
    /// GPT-2 has no pad token; <c>WithPadToken(tokenizer.EosToken)</c> is the usual choice.</summary>
    public BpeTokenizer WithPadToken(string? token) => WithSpecialTokens(Specials with { Pad = token });

    /// <summary>This tokenizer with <paramref name="id"/>'s token as padding token.</summary>
    public BpeTokenizer WithPadTokenId(int id) => WithPadToken(IdToToken(id));

    /// <summary>This tokenizer with other named special tokens; each must be null or in the vocabulary. Named tokens that
    /// are not added tokens yet are matched in raw text like the others (see <see cref="Encode"/>).</summary>
    public BpeTokenizer WithSpecialTokens(string? eos, string? bos, string? unk, string? pad) =>
        WithSpecialTokens(new SpecialTokens(eos, bos, unk, pad));

    /// <summary>This tokenizer with another <see cref="ModelMaxLength"/>.</summary>
    public BpeTokenizer WithModelMaxLength(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return new BpeTokenizer(this, Specials) { ModelMaxLength = length };
    }

    internal BpeTokenizer WithSpecialTokens(SpecialTokens specials)
    {
        foreach (var (name, token) in specials.Named())
        {
            if (token is not null && !tokenToId.ContainsKey(token))
            {
                throw new ArgumentException($"{name} '{token}' is not in the vocabulary", nameof(specials));
            }
        }
        // Named tokens that are not special added tokens yet must be matched in raw text too.
        var missing = specials.Named()
            .Select(n => n.Token)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Where(token => !addedTokens.Any(t => t.Content == token && t.Special))
            .ToList();
        if (missing.Count == 0) return new BpeTokenizer(this, specials);
        var added = addedTokens.Where(t => !missing.Contains(t.Content))
            .Concat(missing.Select(token => new AddedToken(tokenToId[token], token, Special: true)))
            .ToArray();
        return new BpeTokenizer(this, specials, added);
    }

    /// <summary>The id of <paramref name="token"/>; throws <see cref="KeyNotFoundException"/> when it is unknown.</summary>
    public int TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return tokenToId.TryGetValue(token, out int id)
            ? id
            : throw new KeyNotFoundException($"token '{token}' is not in the vocabulary");
    }

    /// <summary>The id of <paramref name="token"/> (its byte-level spelling, e.g. "Ġworld"), if any.</summary>
    public bool TryGetId(string token, out int id)
    {
        ArgumentNullException.ThrowIfNull(token);
        return tokenToId.TryGetValue(token, out id);
    }

    /// <summary>The vocabulary spelling of <paramref name="id"/> (byte-level characters, e.g. "Ġworld").</summary>
    public string IdToToken(int id) => idToToken[CheckId(id)]!;

    /// <summary>The raw bytes <paramref name="id"/> stands for.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => idToBytes[CheckId(id)];

    /// <summary>Whether <paramref name="id"/> is a special added token (eos, pad, ...).</summary>
    public bool IsSpecialToken(int id) => isSpecial[CheckId(id)];

    /// <summary>
    /// Token ids of <paramref name="text"/>. Added tokens are matched in the raw text first (longest first); special
    /// ones only when <paramref name="allowSpecialTokens"/>, otherwise their text is encoded as ordinary text.
    /// </summary>
    public int[] Encode(string text, bool allowSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 4);
        EncodeTo(text, output, allowSpecialTokens);
        return [.. output];
    }

    /// <summary>Appends the token ids of <paramref name="text"/> to <paramref name="output"/> (see <see cref="Encode"/>).
    /// Added tokens cut the text into pieces (their lstrip/rstrip flags trim the neighbouring pieces, single_word ones
    /// match only as whole words); each other piece goes through the pipeline.</summary>
    public void EncodeTo(string text, List<int> output, bool allowSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(output);
        var splitter = splitters.Raw(allowSpecialTokens);
        if (splitter is null)
        {
            EncodePiece(text, 0, output, allowSpecialTokens);
            return;
        }
        int section = 0;
        splitter.Split(text, (ReadOnlySpan<char> piece, AddedToken? token) =>
        {
            if (token is not null) output.Add(token.Id);
            else EncodePiece(piece, section, output, allowSpecialTokens);
            section++;
        });
    }

    /// <summary>Ids of <paramref name="text"/> with the special tokens the post-processor adds around a sequence
    /// (transformers' <c>encode(text, add_special_tokens=True)</c>; Llama: BOS first).</summary>
    public int[] EncodeWithSpecialTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 4);
        output.AddRange(pipeline.PrefixIds);
        EncodeTo(text, output);
        output.AddRange(pipeline.SuffixIds);
        return [.. output];
    }

    /// <summary>Ids the post-processor puts before a sequence when special tokens are added (Llama: [BOS]).</summary>
    public IReadOnlyList<int> PrefixTokenIds => pipeline.PrefixIds;

    /// <summary>Ids the post-processor puts after a sequence when special tokens are added (usually none).</summary>
    public IReadOnlyList<int> SuffixTokenIds => pipeline.SuffixIds;

    /// <summary>
    /// The text of <paramref name="ids"/>: their bytes concatenated and read as UTF-8, invalid sequences becoming U+FFFD
    /// (like Hugging Face's <c>errors="replace"</c>). Special tokens are kept unless <paramref name="skipSpecialTokens"/>.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        string text = pipeline.Decoder is null or ByteLevelDecoder ? DecodeBytes(ids, skipSpecialTokens) : DecodeWithDecoder(ids, skipSpecialTokens);
        return CleanUpTokenizationSpaces ? CleanUpSpaces(text) : text;
    }

    private string DecodeBytes(ReadOnlySpan<int> ids, bool skipSpecialTokens)
    {
        int length = 0;
        foreach (int id in ids)
        {
            CheckId(id, nameof(ids));
            if (!(skipSpecialTokens && isSpecial[id])) length += idToBytes[id]!.Length;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            int offset = 0;
            foreach (int id in ids)
            {
                if (skipSpecialTokens && isSpecial[id]) continue;
                byte[] bytes = idToBytes[id]!;
                bytes.CopyTo(buffer, offset);
                offset += bytes.Length;
            }
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Decodes a list or array of ids (see <see cref="Decode(ReadOnlySpan{int}, bool)"/>).</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        Decode(ids is int[] array ? array : [.. ids], skipSpecialTokens);

    private int CheckId(int id, string parameter = "id")
    {
        if ((uint)id >= (uint)idToToken.Length)
        {
            throw new ArgumentOutOfRangeException(parameter, id,
                $"token id {id} is outside the vocabulary (size {idToToken.Length})");
        }
        if (idToToken[id] is null)
        {
            throw new ArgumentOutOfRangeException(parameter, id, $"token id {id} is not assigned to any token");
        }
        return id;
    }

    private int? IdOrNull(string? token) => token is not null && tokenToId.TryGetValue(token, out int id) ? id : null;

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> output)
    {
        if (text.IsEmpty) return;
        foreach (var match in ByteLevel.PreTokenizer().EnumerateMatches(text))
        {
            EncodeWord(text.Slice(match.Index, match.Length), output);
        }
    }

    /// <summary>Byte-level BPE of one word; <paramref name="heapOnly"/> always merges as tokenizers does (lowest rank,
    /// leftmost), for vocabularies not trained by GPT-2's loop.</summary>
    private void EncodeWord(ReadOnlySpan<char> word, List<int> output, bool heapOnly = false)
    {
        bool cacheable = word.Length <= MaxCachedWordLength;
        if (cacheable && cache.TryGet(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }

        int byteCount = Encoding.UTF8.GetByteCount(word);
        int[]? rented = null;
        Span<int> symbols = byteCount <= 256 ? stackalloc int[byteCount] : (rented = ArrayPool<int>.Shared.Rent(byteCount));
        Span<byte> bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(word, bytes);
        int count = 0;
        foreach (byte b in bytes)
        {
            int id = byteToId[b];
            if (id >= 0) symbols[count++] = id;
            else if (UnkTokenId is int unk) symbols[count++] = unk; // only for vocabularies missing some byte tokens
        }
        count = heapOnly ? MergeSymbolsWithHeap(symbols[..count]) : MergeSymbols(symbols[..count]);
        var result = symbols[..count].ToArray();
        if (rented is not null) ArrayPool<int>.Shared.Return(rented);
        if (cacheable) cache.Add(word, result);
        output.AddRange(result);
    }

    /// <summary>Words with more byte symbols than this use the heap-based merge (linear in practice) instead of the
    /// quadratic scan.</summary>
    internal const int HeapMergeThreshold = 48;

    /// <summary>Applies the merges to <paramref name="symbols"/> in place and returns the new length.</summary>
    internal int MergeSymbols(Span<int> symbols) =>
        symbols.Length > HeapMergeThreshold ? MergeSymbolsWithHeap(symbols) : MergeSymbolsByScanning(symbols);

    /// <summary>GPT-2's loop: merge every occurrence of the lowest-ranked adjacent pair until none has a rank.</summary>
    internal int MergeSymbolsByScanning(Span<int> symbols)
    {
        int count = symbols.Length;
        while (count > 1)
        {
            int bestRank = int.MaxValue;
            int bestPosition = -1;
            for (int i = 0; i < count - 1; i++)
            {
                if (mergeRanks.TryGetValue(PairKey(symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    bestPosition = i;
                }
            }
            if (bestPosition < 0) break;

            int left = symbols[bestPosition], right = symbols[bestPosition + 1], merged = mergeResults[bestRank];
            int write = bestPosition;
            for (int read = bestPosition; read < count;)
            {
                if (read < count - 1 && symbols[read] == left && symbols[read + 1] == right)
                {
                    symbols[write++] = merged;
                    read += 2;
                }
                else
                {
                    symbols[write++] = symbols[read++];
                }
            }
            count = write;
        }
        return count;
    }

    /// <summary>
    /// The same result as <see cref="MergeSymbolsByScanning"/> in O(n log n): a heap of (rank, position) over a linked
    /// list of symbols, lowest rank first and leftmost first among equal ranks (as Hugging Face tokenizers does).
    /// Identical to GPT-2's loop whenever every merge's parts are bytes or earlier merges (true of trained merges).
    /// </summary>
    internal int MergeSymbolsWithHeap(Span<int> symbols)
    {
        int count = symbols.Length;
        var next = new int[count];
        var previous = new int[count];
        var queue = new PriorityQueue<int, long>(count);
        for (int i = 0; i < count; i++)
        {
            next[i] = i + 1 < count ? i + 1 : -1;
            previous[i] = i - 1;
            if (i + 1 < count && mergeRanks.TryGetValue(PairKey(symbols[i], symbols[i + 1]), out int rank))
            {
                queue.Enqueue(i, ((long)rank << 32) | (uint)i);
            }
        }

        var alive = new bool[count];
        Array.Fill(alive, true);
        while (queue.TryDequeue(out int position, out long priority))
        {
            int rank = (int)(priority >> 32);
            int right = next[position];
            // Stale entry: the symbol was absorbed, or its pair changed since it was queued.
            if (!alive[position] || right < 0
                || !mergeRanks.TryGetValue(PairKey(symbols[position], symbols[right]), out int currentRank) || currentRank != rank)
            {
                continue;
            }
            symbols[position] = mergeResults[rank];
            alive[right] = false;
            next[position] = next[right];
            if (next[right] >= 0) previous[next[right]] = position;

            int before = previous[position];
            if (before >= 0 && mergeRanks.TryGetValue(PairKey(symbols[before], symbols[position]), out int leftRank))
            {
                queue.Enqueue(before, ((long)leftRank << 32) | (uint)before);
            }
            int after = next[position];
            if (after >= 0 && mergeRanks.TryGetValue(PairKey(symbols[position], symbols[after]), out int rightRank))
            {
                queue.Enqueue(position, ((long)rightRank << 32) | (uint)position);
            }
        }

        int write = 0;
        for (int i = 0; i >= 0 && i < count; i = next[i]) symbols[write++] = symbols[i];
        return write;
    }

    internal static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Bytes of a vocabulary token: byte-level characters map back to their byte; any other character
    /// (not produced by GPT-2 style vocabularies) contributes its UTF-8 bytes.</summary>
    private static byte[] TokenBytes(string token)
    {
        var bytes = new List<byte>(token.Length);
        foreach (char c in token)
        {
            if (ByteLevel.TryCharToByte(c, out byte b)) bytes.Add(b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return [.. bytes];
    }

    /// <summary>A bounded, locked word → ids cache, cleared when full.</summary>
    private sealed class WordCache
    {
        private readonly Lock gate = new();
        private readonly Dictionary<string, int[]> words = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> lookup;

        public WordCache() => lookup = words.GetAlternateLookup<ReadOnlySpan<char>>();

        public bool TryGet(ReadOnlySpan<char> word, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out int[]? ids)
        {
            lock (gate) return lookup.TryGetValue(word, out ids);
        }

        public void Add(ReadOnlySpan<char> word, int[] ids)
        {
            lock (gate)
            {
                if (words.Count >= CacheCapacity) words.Clear();
                lookup[word] = ids;
            }
        }
    }
}

/// <summary>The named special tokens of a tokenizer (Hugging Face's eos_token, bos_token, unk_token, pad_token).</summary>
internal sealed record SpecialTokens(string? Eos, string? Bos, string? Unk, string? Pad)
{
    public static SpecialTokens None { get; } = new(null, null, null, null);

    public IEnumerable<(string Name, string? Token)> Named() =>
        [("eos_token", Eos), ("bos_token", Bos), ("unk_token", Unk), ("pad_token", Pad)];
}
