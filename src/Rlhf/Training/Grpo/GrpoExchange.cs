// GRPO/RLOO across the ranks of a data-parallel job: each rank samples and scores the completions of its share of the
// prompts (prompt i on rank i mod size); this all-gather gives every rank the whole generation batch in the order one
// process would have it (prompt by prompt, each prompt's group together), so group baselines, advantages and the
// shuffled micro-batches are the same on every rank, and each rank then trains every size-th micro-batch.
using Rlhf.Distributed;

namespace Rlhf.Training.Grpo;

internal static class GrpoExchange
{
    /// <summary>One sampled completion as it travels: its prompt's index in the step's batch, ids, EOS, one reward per function.</summary>
    internal sealed record SharedCompletion(int Prompt, int[] PromptIds, int[] CompletionIds, bool EndedWithEos, double[] Rewards);

    /// <summary>Every rank's completions, ordered by prompt index (a prompt's completions keep their sampling order).</summary>
    public static List<SharedCompletion> GatherByPrompt(ICommunicator communicator, IReadOnlyList<SharedCompletion> mine)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(mine.Count);
            foreach (var c in mine)
            {
                writer.Write(c.Prompt);
                Collectives.WriteArray(writer, c.PromptIds);
                Collectives.WriteArray(writer, c.CompletionIds);
                writer.Write(c.EndedWithEos);
                Collectives.WriteArray(writer, c.Rewards);
            }
        }
        var all = new List<SharedCompletion>();
        foreach (var block in Collectives.GatherAll(communicator, buffer.ToArray()))
        {
            using var reader = new BinaryReader(new MemoryStream(block));
            int count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
                all.Add(new SharedCompletion(reader.ReadInt32(), Collectives.ReadArray<int>(reader), Collectives.ReadArray<int>(reader),
                    reader.ReadBoolean(), Collectives.ReadArray<double>(reader)));
        }
        return [.. all.OrderBy(c => c.Prompt)]; // OrderBy is stable: within a prompt, the sampling order stays
    }
}
