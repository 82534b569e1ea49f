// The tokenizer.json pipeline around the BPE model: normalize → added tokens in normalized text → pre-tokenize →
// BPE (byte-level, or characters with byte fallback) and the decoder chain, as Hugging Face tokenizers runs them.
using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Rlhf.Text.Pipeline;

namespace Rlhf.Text;

internal sealed partial class BpeTokenizer
{
    /// <summary>tokenizer_config.json's <c>clean_up_tokenization_spaces</c>: decoding removes the space before
    /// punctuation and contractions (" ." → ".", " n't" → "n't", ...). Off unless the config turns it on.</summary>
    public bool CleanUpTokenizationSpaces { get; private init; }

    /// <summary>The tokenizer_config.json this tokenizer was loaded with (chat_template and other keys are kept when
    /// saving), or null.</summary>
    internal JsonObject? SourceConfig { get; private init; }

    /// <summary>Whether this tokenizer encodes exactly like GPT-2's (no normalizer, GPT-2's regex, byte-level BPE).</summary>
    internal bool IsGpt2Pipeline => pipeline.EncodesLikeGpt2 && pipeline.Decoder is null or ByteLevelDecoder;

    internal TokenizerPipeline Pipeline => pipeline;

    /// <summary>One piece of text between added tokens; <paramref name="section"/> is its index among the pieces.</summary>
    private void EncodePiece(ReadOnlySpan<char> piece, int section, List<int> output, bool allowSpecialTokens)
    {
        if (piece.IsEmpty) return;
        if (pipeline.EncodesLikeGpt2)
        {
            EncodeOrdinary(piece, output);
            return;
        }
        string text = piece.ToString();
        if (pipeline.Normalizer is { } normalizer) text = normalizer.Normalize(text);
        if (text.Length == 0) return;
        var splitter = splitters.Normalized(allowSpecialTokens);
        if (splitter is null)
        {
            EncodeNormalized(text, section, output);
            return;
        }
        splitter.Split(text, (ReadOnlySpan<char> part, AddedToken? token) =>
        {
            if (token is not null) output.Add(token.Id);
            else if (!part.IsEmpty) EncodeNormalized(part.ToString(), section, output);
        });
    }

    private void EncodeNormalized(string text, int section, List<int> output)
    {
        var words = new List<string>();
        if (pipeline.PreTokenizer is { } pre) pre.Split(text, section, words);
        else words.Add(text);
        foreach (string word in words)
        {
            if (word.Length == 0) continue;
            if (pipeline.ByteLevelVocabulary) EncodeByteLevelWord(word, output);
            else EncodeCharacterWord(word, output);
        }
    }

    private void EncodeByteLevelWord(string word, List<int> output)
    {
        if (pipeline.IgnoreMerges)
        {
            int byteCount = Encoding.UTF8.GetByteCount(word);
            byte[] rented = ArrayPool<byte>.Shared.Rent(byteCount);
            Encoding.UTF8.GetBytes(word, rented);
            string spelled = ByteLevel.Encode(rented.AsSpan(0, byteCount));
            ArrayPool<byte>.Shared.Return(rented);
            if (tokenToId.TryGetValue(spelled, out int whole))
            {
                output.Add(whole);
                return;
            }
        }
        EncodeWord(word, output, heapOnly: true);
    }

    /// <summary>SentencePiece-style BPE: the symbols are the word's characters (code points); those missing from the
    /// vocabulary become their UTF-8 byte tokens "&lt;0xXX&gt;" (byte_fallback) or the unknown token.</summary>
    private void EncodeCharacterWord(string word, List<int> output)
    {
        if (pipeline.IgnoreMerges && tokenToId.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        bool cacheable = word.Length <= MaxCachedWordLength;
        if (cacheable && cache.TryGet(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        var symbols = new int[word.Length];
        var unknown = new List<string>();
        int count = 0;
        for (int i = 0; i < word.Length; i++)
        {
            int length = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var character = word.AsSpan(i, length);
            if (tokenLookup.TryGetValue(character, out int id))
            {
                symbols[count++] = id;
            }
            else
            {
                symbols[count++] = -1 - unknown.Count; // never part of a merge
                unknown.Add(character.ToString());
            }
            i += length - 1;
        }
        count = MergeSymbolsWithHeap(symbols.AsSpan(0, count));

        var result = new List<int>(count);
        bool previousUnknown = false;
        for (int i = 0; i < count; i++)
        {
            int symbol = symbols[i];
            if (symbol >= 0)
            {
                result.Add(symbol);
                previousUnknown = false;
                continue;
            }
            if (pipeline.ByteFallback && TryByteTokens(unknown[-1 - symbol], result))
            {
                previousUnknown = false;
                continue;
            }
            if (UnkTokenId is int unk && !(pipeline.FuseUnknown && previousUnknown)) result.Add(unk);
            previousUnknown = true;
        }
        int[] ids = [.. result];
        if (cacheable) cache.Add(word, ids);
        output.AddRange(ids);
    }

    /// <summary>Appends the "&lt;0xXX&gt;" ids of <paramref name="character"/>'s UTF-8 bytes if all are in the vocabulary.</summary>
    private bool TryByteTokens(string character, List<int> output)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(character);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            if (!tokenToId.TryGetValue($"<0x{bytes[i]:X2}>", out ids[i])) return false;
        }
        output.AddRange(ids);
        return true;
    }

    private string DecodeWithDecoder(ReadOnlySpan<int> ids, bool skipSpecialTokens)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            CheckId(id, nameof(ids));
            if (!(skipSpecialTokens && isSpecial[id])) tokens.Add(idToToken[id]!);
        }
        return string.Concat(pipeline.Decoder!.DecodeChain(tokens, AddedContents));
    }

    private HashSet<string> AddedContents => addedContents ??= [.. addedTokens.Select(t => t.Content)];

    private HashSet<string>? addedContents;

    /// <summary>transformers' <c>clean_up_tokenization</c>.</summary>
    private static string CleanUpSpaces(string text) => text
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
        .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);

    /// <summary>Bytes of a SentencePiece-style token: "&lt;0xXX&gt;" is that byte, "▁" a space, the rest UTF-8.</summary>
    private static byte[] PieceBytes(string token) =>
        ByteFallbackDecoder.TryParseByteToken(token, out byte b) ? [b] : Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '));
}
