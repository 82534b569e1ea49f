// The example records produced by the data layer: preference pairs, instruction (SFT) examples and ranked responses.
namespace Rlhf.Data;

/// <summary>
/// A preference pair in TRL's explicit form. The same record is used at two stages, and says nothing about which:
/// parsers return it <em>raw</em> (<see cref="Prompt"/> = the bare instruction, responses without template or EOS);
/// the pipelines return it <em>rendered</em> (<see cref="Prompt"/> = the template up to the response,
/// e.g. <c>### Question: …\n### Answer: </c>, responses ending with the EOS text) via <see cref="Render"/>.
/// Tokenise Prompt and each response separately and concatenate the ids (PITFALLS #12).
/// </summary>
internal sealed record PreferencePair(string Prompt, string Chosen, string Rejected, float? Margin = null)
{
    /// <summary>The pair with the template applied: prompt part and response parts (EOS appended by the template).</summary>
    public PreferencePair Render(PromptTemplate template, string eos) =>
        new(template.RenderPrompt(Prompt), template.RenderResponse(Chosen, eos), template.RenderResponse(Rejected, eos), Margin);
}

/// <summary>
/// An SFT example: instruction and its response. Raw from the parsers, rendered by the SFT pipeline
/// (<see cref="Instruction"/> = rendered prompt, <see cref="Response"/> = rendered response with EOS); the loss is taken
/// over the response tokens only.
/// </summary>
internal sealed record InstructionExample(string Instruction, string Response)
{
    public InstructionExample Render(PromptTemplate template, string eos) =>
        new(template.RenderPrompt(Instruction), template.RenderResponse(Response, eos));
}

/// <summary>
/// K responses to one prompt, best first (InstructGPT's K-wise comparisons). <see cref="Scores"/> (higher is better)
/// are aligned with <see cref="Responses"/> when the source had them.
/// </summary>
internal sealed record RankedExample(string Prompt, IReadOnlyList<string> Responses, IReadOnlyList<double>? Scores = null)
{
    /// <summary>All C(K,2) pairs (better, worse) in rank order; the margin is the score difference when scores exist.</summary>
    public IEnumerable<PreferencePair> ToPairs()
    {
        for (int i = 0; i < Responses.Count; i++)
            for (int j = i + 1; j < Responses.Count; j++)
                yield return new PreferencePair(Prompt, Responses[i], Responses[j],
                    Scores is null ? null : (float)(Scores[i] - Scores[j]));
    }
}
