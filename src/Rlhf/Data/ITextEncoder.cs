// The tokenizer as the data layer sees it: text → ids, used only to measure lengths (the BPE lives in Rlhf.Text).
namespace Rlhf.Data;

/// <summary>Encodes text to token ids. Implemented by the BPE tokenizer; tests use fakes.</summary>
internal interface ITextEncoder
{
    int[] Encode(string text);

    /// <summary>Number of tokens in <paramref name="text"/>; override when counting is cheaper than encoding.</summary>
    int CountTokens(string text) => Encode(text).Length;
}

/// <summary>Adapts a delegate to <see cref="ITextEncoder"/> (e.g. <c>new DelegateTextEncoder(tokenizer.Encode)</c>).</summary>
internal sealed class DelegateTextEncoder(Func<string, int[]> encode) : ITextEncoder
{
    public int[] Encode(string text) => encode(text);
}
