// The in-memory examples the public trainers take, in TRL's explicit forms.
namespace Rlhf;

/// <summary>A preference pair: a prompt and two responses to it, <paramref name="Chosen"/> preferred.</summary>
/// <param name="Prompt">The prompt, used as given (render a chat template first if the model needs one).</param>
/// <param name="Chosen">The preferred response (EOS is appended when tokenised).</param>
/// <param name="Rejected">The dispreferred response.</param>
public sealed record PreferenceExample(string Prompt, string Chosen, string Rejected);

/// <summary>A supervised fine-tuning example: a prompt and the response to learn (the loss covers the response only).</summary>
/// <param name="Prompt">The prompt, used as given.</param>
/// <param name="Response">The response to imitate (EOS is appended when tokenised).</param>
public sealed record Demonstration(string Prompt, string Response);
