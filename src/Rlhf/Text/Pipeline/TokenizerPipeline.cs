// What a tokenizer.json asks for beyond GPT-2's byte-level BPE: normalizer, pre-tokenizer, model flags, decoder and
// the ids the post-processor puts around a sequence.
namespace Rlhf.Text.Pipeline;

/// <summary>
/// The stages of Hugging Face tokenizers' pipeline (normalize → pre-tokenize → model → post-process; decode) for one
/// tokenizer. <see cref="ByteLevelVocabulary"/>: words are UTF-8 bytes mapped to GPT-2's byte characters before BPE
/// (a ByteLevel pre-tokenizer); otherwise BPE starts from the characters (SentencePiece style, Llama 2).
/// </summary>
internal sealed record TokenizerPipeline
{
    public TextNormalizer? Normalizer { get; init; }
    public PreTokenizer? PreTokenizer { get; init; }
    public bool ByteLevelVocabulary { get; init; } = true;

    /// <summary>model.byte_fallback: characters missing from the vocabulary become their "&lt;0xXX&gt;" byte tokens.</summary>
    public bool ByteFallback { get; init; }

    /// <summary>model.ignore_merges: a word that is itself a vocabulary token is emitted without merging (Llama 3).</summary>
    public bool IgnoreMerges { get; init; }

    /// <summary>model.fuse_unk: consecutive unknown pieces become one unk token.</summary>
    public bool FuseUnknown { get; init; }

    /// <summary>model.unk_token, or null.</summary>
    public string? UnknownToken { get; init; }

    /// <summary>The decoder chain; null decodes by concatenating the tokens' bytes (ByteLevel).</summary>
    public TokenDecoder? Decoder { get; init; }

    /// <summary>Ids the post-processor writes before and after a single sequence when special tokens are added
    /// (tokenizer.json's TemplateProcessing, e.g. Llama's BOS).</summary>
    public IReadOnlyList<int> PrefixIds { get; init; } = [];
    public IReadOnlyList<int> SuffixIds { get; init; } = [];

    /// <summary>tokenizer.json's normalizer, pre_tokenizer, post_processor and decoder as read, and its model object
    /// without vocab and merges, written back on save; null for GPT-2's own pipeline.</summary>
    public System.Text.Json.Nodes.JsonObject? Source { get; init; }

    /// <summary>True when encoding is exactly GPT-2's (no normalizer, ByteLevel with its regex, plain BPE) so the fast
    /// path applies.</summary>
    public bool EncodesLikeGpt2 =>
        Normalizer is null && ByteLevelVocabulary && !ByteFallback && !IgnoreMerges
        && PreTokenizer is null or ByteLevelPreTokenizer { IsGpt2: true };

    public static TokenizerPipeline Gpt2 { get; } = new();
}
