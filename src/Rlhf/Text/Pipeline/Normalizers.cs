// tokenizer.json "normalizer" steps (Hugging Face tokenizers): Unicode forms, Prepend, Replace, Lowercase, Sequence.
using System.Text.RegularExpressions;

namespace Rlhf.Text.Pipeline;

/// <summary>Rewrites a piece of text before pre-tokenisation (tokenizers' <c>normalizers</c> module).</summary>
internal abstract class TextNormalizer
{
    public abstract string Normalize(string text);
}

/// <summary>NFC (Qwen2) or NFD, from the project's own Unicode table (see <see cref="CanonicalNormalization"/>).</summary>
internal sealed class UnicodeFormNormalizer(bool compose) : TextNormalizer
{
    public override string Normalize(string text) => compose ? CanonicalNormalization.Nfc(text) : CanonicalNormalization.Nfd(text);
}

/// <summary>Prepends a string (Llama 2's "▁"); empty pieces stay empty.</summary>
internal sealed class PrependNormalizer(string prefix) : TextNormalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

/// <summary>Replaces every match of a literal or regex pattern (Llama 2: " " → "▁").</summary>
internal sealed class ReplaceNormalizer(Regex pattern, string content) : TextNormalizer
{
    public override string Normalize(string text) => pattern.Replace(text, content.Replace("$", "$$", StringComparison.Ordinal));
}

internal sealed class LowercaseNormalizer : TextNormalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

internal sealed class SequenceNormalizer(IReadOnlyList<TextNormalizer> steps) : TextNormalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}
