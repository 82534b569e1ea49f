// A token matched verbatim in raw text before pre-tokenisation (e.g. <|endoftext|>), as in Hugging Face's added_tokens.
namespace Rlhf.Text;

/// <summary>
/// A token that is looked for in the raw text before the byte-level split and maps to one id.
/// <paramref name="Special"/> tokens (eos, pad, ...) are only matched when special tokens are allowed.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special);
