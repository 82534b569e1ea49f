// Token ids of rendered examples, in the two ways models see them (PITFALLS #12): a reward model reads the whole
// text tokenized at once (the textbook's `tokenizer(text)`), a policy reads prompt and completion ids apart (TRL).
namespace Rlhf.Data;

internal static class TokenSequences
{
    /// <summary>
    /// What a reward model reads: <c>encode(prompt + response)</c>, and the EOS id after it when the template writes no
    /// EOS text (and the ids do not already end with it). "### Answer: You" gives <c>:</c>, <c> You</c>, as transformers does.
    /// </summary>
    public static int[] Whole(ITextEncoder encoder, string prompt, string response, PromptTemplate template, int? eosTokenId) =>
        WithEos(encoder.Encode(prompt + response), template, eosTokenId);

    /// <summary>A policy's completion ids: <c>encode(response)</c>, the EOS id appended as in <see cref="Whole"/>.</summary>
    public static int[] Response(ITextEncoder encoder, string response, PromptTemplate template, int? eosTokenId) =>
        WithEos(encoder.Encode(response), template, eosTokenId);

    private static int[] WithEos(int[] ids, PromptTemplate template, int? eosTokenId) =>
        eosTokenId is int eos && !template.HasEos && (ids.Length == 0 || ids[^1] != eos) ? [.. ids, eos] : ids;
}
