// tokenizer.json "decoder" steps: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rlhf.Text.Pipeline;

/// <summary>Turns token strings back into text pieces (tokenizers' <c>decoders</c> module, <c>decode_chain</c>): each
/// step maps the list of pieces to a new list; the text is their concatenation.</summary>
internal abstract class TokenDecoder
{
    public abstract List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens);
}

/// <summary>ByteLevel: runs of vocabulary tokens map their characters back to bytes, read as UTF-8 (invalid → U+FFFD);
/// added tokens pass through as written.</summary>
internal sealed class ByteLevelDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens)
    {
        var pieces = new List<string>();
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            pieces.Add(Encoding.UTF8.GetString([.. bytes]));
            bytes.Clear();
        }
        foreach (string token in tokens)
        {
            if (addedTokens.Contains(token))
            {
                Flush();
                pieces.Add(token);
                continue;
            }
            foreach (char c in token)
            {
                if (ByteLevel.TryCharToByte(c, out byte b)) bytes.Add(b);
                else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }
        Flush();
        return pieces;
    }
}

internal sealed class ReplaceDecoder(Regex pattern, string content) : TokenDecoder
{
    private readonly string replacement = content.Replace("$", "$$", StringComparison.Ordinal);

    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens) =>
        tokens.ConvertAll(token => pattern.Replace(token, replacement));
}

/// <summary>ByteFallback: consecutive "&lt;0xXX&gt;" tokens become the UTF-8 text of their bytes.</summary>
internal sealed class ByteFallbackDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens)
    {
        var pieces = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            if (TryParseByteToken(token, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            if (bytes.Count > 0)
            {
                pieces.Add(Encoding.UTF8.GetString([.. bytes]));
                bytes.Clear();
            }
            pieces.Add(token);
        }
        if (bytes.Count > 0) pieces.Add(Encoding.UTF8.GetString([.. bytes]));
        return pieces;
    }

    /// <summary>Whether <paramref name="token"/> is SentencePiece's byte token "&lt;0xXX&gt;".</summary>
    public static bool TryParseByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}

internal sealed class FuseDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens) => [string.Concat(tokens)];
}

/// <summary>Strip: removes up to <c>start</c> leading and <c>stop</c> trailing <c>content</c> characters of each piece.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens) => tokens.ConvertAll(token =>
    {
        int from = 0;
        while (from < start && from < token.Length && token[from] == content) from++;
        int to = token.Length;
        while (token.Length - to < stop && to > from && token[to - 1] == content) to--;
        return token[from..to];
    });
}

/// <summary>Metaspace: "▁" back to spaces; the first piece loses its leading space unless nothing was prepended.</summary>
internal sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens)
    {
        var pieces = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string piece = tokens[i].Replace(replacement, ' ');
            if (i == 0 && scheme != PrependScheme.Never && piece.StartsWith(' ')) piece = piece[1..];
            pieces.Add(piece);
        }
        return pieces;
    }
}

internal sealed class SequenceDecoder(IReadOnlyList<TokenDecoder> steps) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, ISet<string> addedTokens)
    {
        foreach (var step in steps) tokens = step.DecodeChain(tokens, addedTokens);
        return tokens;
    }
}
