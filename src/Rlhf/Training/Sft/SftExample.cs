// A tokenised demonstration: prompt ids and response ids (EOS included), tokenised separately (PITFALLS #12).
namespace Rlhf.Training.Sft;

/// <param name="ResponseLabels">Which response tokens the loss covers (null: all). A multi-turn conversation puts
/// every turn after the first assistant turn in the response and trains on the assistant turns only (TRL's
/// assistant_only_loss).</param>
internal sealed record SftExample(int[] PromptIds, int[] ResponseIds, bool[]? ResponseLabels = null)
{
    public int Length => PromptIds.Length + ResponseIds.Length;

    /// <summary>Prompt ids, then the pieces' ids one after another, labelled as the pieces are.</summary>
    public static SftExample FromPieces(int[] promptIds, IEnumerable<(int[] Ids, bool Trained)> pieces)
    {
        var ids = new List<int>();
        var labels = new List<bool>();
        foreach (var (pieceIds, trained) in pieces)
        {
            ids.AddRange(pieceIds);
            labels.AddRange(Enumerable.Repeat(trained, pieceIds.Length));
        }
        return new SftExample(promptIds, [.. ids], labels.All(l => l) ? null : [.. labels]);
    }
}
