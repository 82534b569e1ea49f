// A token matched verbatim in raw text before pre-tokenisation (e.g. <|endoftext|>), as in Hugging Face's added_tokens.
namespace Rlhf.Text;

/// <summary>
/// A token that is looked for in the raw text before the byte-level split and maps to one id.
/// <paramref name="Special"/> tokens (eos, pad, ...) are only matched when special tokens are allowed.
/// The flags are tokenizer.json's: <see cref="LStrip"/>/<see cref="RStrip"/> swallow the whitespace before/after a
/// match, <see cref="SingleWord"/> matches only between non-word characters, <see cref="Normalized"/> tokens are
/// matched in the normalized text (default: the non-special ones, as in tokenizers).
/// </summary>
internal sealed record AddedToken(int Id, string Content, bool Special)
{
    public bool LStrip { get; init; }
    public bool RStrip { get; init; }
    public bool SingleWord { get; init; }
    public bool Normalized { get; init; } = !Special;
}
