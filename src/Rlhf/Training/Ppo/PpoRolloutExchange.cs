// PPO across the ranks of a data-parallel job: each rank samples and scores its share of the prompts, and values and
// reference log-probs its share of the first epoch's minibatches; these all-gathers give every rank the whole global
// batch, so reward whitening, GAE, advantage whitening and the KL controller see it as one process would.
using Rlhf.Distributed;

namespace Rlhf.Training.Ppo;

internal static class PpoRolloutExchange
{
    /// <summary>Every rank's sampled rollouts (prompt, response, EOS, score), rank 0's first.</summary>
    public static List<PpoRollout> GatherSampled(ICommunicator communicator, IReadOnlyList<PpoRollout> mine)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(mine.Count);
            foreach (var r in mine)
            {
                Collectives.WriteArray(writer, r.PromptIds);
                Collectives.WriteArray(writer, r.ResponseIds);
                writer.Write(r.EndedWithEos);
                writer.Write(r.Score);
            }
        }
        var all = new List<PpoRollout>();
        foreach (var block in Collectives.GatherAll(communicator, buffer.ToArray()))
        {
            using var reader = new BinaryReader(new MemoryStream(block));
            int count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
                all.Add(new PpoRollout { PromptIds = Collectives.ReadArray<int>(reader), ResponseIds = Collectives.ReadArray<int>(reader), EndedWithEos = reader.ReadBoolean(), Score = reader.ReadSingle() });
        }
        return all;
    }

    /// <summary>Copies the per-token arrays (old and reference log-probs, values, entropy) each rank computed for its rollouts to every rank.</summary>
    public static void ShareScored(ICommunicator communicator, IReadOnlyList<PpoRollout> rollouts, IEnumerable<int> mine)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (int i in mine)
            {
                writer.Write(i);
                foreach (var values in new[] { rollouts[i].OldLogProbs, rollouts[i].ReferenceLogProbs, rollouts[i].Values, rollouts[i].Entropy })
                    Collectives.WriteArray(writer, values);
            }
        foreach (var block in Collectives.GatherAll(communicator, buffer.ToArray()))
        {
            using var reader = new BinaryReader(new MemoryStream(block));
            while (reader.BaseStream.Position < block.Length)
            {
                var r = rollouts[reader.ReadInt32()];
                (r.OldLogProbs, r.ReferenceLogProbs, r.Values, r.Entropy) = (Collectives.ReadArray<float>(reader), Collectives.ReadArray<float>(reader), Collectives.ReadArray<float>(reader), Collectives.ReadArray<float>(reader));
            }
        }
    }

    /// <summary>Whether any rank says yes (one tiny all-reduce).</summary>
    public static bool Any(ICommunicator communicator, bool mine)
    {
        Span<double> flag = [mine ? 1 : 0];
        communicator.AllReduceSum(flag);
        return flag[0] > 0;
    }
}
