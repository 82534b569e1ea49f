// One GRPO/RLOO prompt: its rendered token ids, the dataset's prompt text and the row it came from.
using Rlhf.Data;

namespace Rlhf.Training.Grpo;

/// <param name="PromptIds">The prompt as the policy sees it (template applied).</param>
/// <param name="Prompt">The dataset's prompt text (what reward functions receive).</param>
/// <param name="Row">The dataset row, for rewards that read other columns; null for plain-text prompts.</param>
internal sealed record GrpoExample(int[] PromptIds, string Prompt, DataRow? Row);
