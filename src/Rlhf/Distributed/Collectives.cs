// What the training loop exchanges between ranks, built on ICommunicator: the gradient sum (one all-reduce per
// optimizer step, fp32), the step's metrics, and rank 0's state (weights, optimizer moments, trainer state) on resume.
using System.Runtime.InteropServices;
using System.Text.Json;
using Rlhf.Tensors;

namespace Rlhf.Distributed;

internal static unsafe class Collectives
{
    /// <summary>
    /// Sums the gradients of <paramref name="parameters"/> — the trainable ones, so with adapters only they travel —
    /// over all ranks. Each rank's tasks scale their micro-batches by their share of the global group, so the sum is
    /// the group's gradient exactly as one process with the same accumulation computes it.
    /// </summary>
    public static void SumGradients(ICommunicator communicator, ParameterSet parameters)
    {
        if (communicator.Size == 1) return;
        communicator.AllReduceSum(new Span<float>(parameters.Gradients.Pointer, checked((int)parameters.Gradients.Length)));
    }

    /// <summary>SHA-256 of the parameters' values (the model's fingerprint for <see cref="RunAgreement"/>).</summary>
    public static byte[] HashValues(ParameterSet parameters) =>
        RunAgreement.Hash(new ReadOnlySpan<byte>(parameters.Values.Pointer, checked((int)parameters.Values.Length * sizeof(float))));

    /// <summary><paramref name="target"/> += <paramref name="source"/> in this process (the all-reduce benchmark's local reference).</summary>
    public static void AddInMemory(float[] target, float[] source)
    {
        if (target.Length != source.Length) throw new ArgumentException("The buffers differ in length.");
        fixed (float* t = target)
        fixed (float* s = source)
            Rlhf.Tensors.Kernels.ResidualKernels.Accumulate(t, s, target.Length);
    }

    /// <summary>Copies rank <paramref name="root"/>'s contents of <paramref name="slab"/> to every rank.</summary>
    public static void Broadcast(ICommunicator communicator, NativeSlab slab, int root = 0)
    {
        if (communicator.Size == 1) return;
        communicator.Broadcast(new Span<float>(slab.Pointer, checked((int)slab.Length)), root);
    }

    /// <summary>Rank <paramref name="root"/>'s bytes on every rank (the others pass anything, e.g. empty).</summary>
    public static byte[] Broadcast(ICommunicator communicator, byte[] data, int root = 0)
    {
        if (communicator.Size == 1) return data;
        var length = BitConverter.GetBytes(data.Length);
        communicator.Broadcast(length, root);
        var result = communicator.Rank == root ? data : new byte[BitConverter.ToInt32(length)];
        communicator.Broadcast(result, root);
        return result;
    }

    /// <summary>Every rank's bytes (of any length), in rank order.</summary>
    public static byte[][] GatherAll(ICommunicator communicator, byte[] block)
    {
        if (communicator.Size == 1) return [block];
        var lengths = communicator.AllGather(BitConverter.GetBytes(block.Length));
        int longest = Enumerable.Range(0, communicator.Size).Max(r => BitConverter.ToInt32(lengths, 4 * r));
        var padded = new byte[longest];
        block.CopyTo(padded, 0);
        var all = communicator.AllGather(padded);
        return Enumerable.Range(0, communicator.Size)
            .Select(r => all.AsSpan(r * longest, BitConverter.ToInt32(lengths, 4 * r)).ToArray()).ToArray();
    }

    /// <summary>
    /// One optimizer step's metrics summed over the ranks (each rank's are its shares of the global group), and whether
    /// any rank asks to stop (Ctrl-C on one rank interrupts all of them at the same step). Rank order fixes the sum's order.
    /// </summary>
    public static (Dictionary<string, double> Metrics, bool Stop) SumMetrics(ICommunicator communicator, IReadOnlyDictionary<string, double> metrics, bool stop)
    {
        if (communicator.Size == 1) return (metrics.ToDictionary(), stop);
        var mine = JsonSerializer.SerializeToUtf8Bytes(new RankMetrics(metrics.ToDictionary(kv => kv.Key, kv => Encode(kv.Value)), stop));
        var merged = new Dictionary<string, double>();
        bool anyStop = false;
        foreach (var block in GatherAll(communicator, mine))
        {
            var theirs = JsonSerializer.Deserialize<RankMetrics>(block)!;
            foreach (var (name, value) in theirs.Metrics) merged[name] = merged.GetValueOrDefault(name) + Decode(value);
            anyStop |= theirs.Stop;
        }
        return (merged, anyStop);
    }

    // JSON has no NaN or infinity: the metric travels as its bits.
    private static long Encode(double value) => BitConverter.DoubleToInt64Bits(value);
    private static double Decode(long bits) => BitConverter.Int64BitsToDouble(bits);

    private sealed record RankMetrics(Dictionary<string, long> Metrics, bool Stop);

    /// <summary>Writes an array as its length and raw bytes (for the exchanges built on <see cref="GatherAll"/>).</summary>
    public static void WriteArray<T>(BinaryWriter writer, T[] values) where T : unmanaged
    {
        writer.Write(values.Length);
        writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>Reads an array <see cref="WriteArray{T}"/> wrote.</summary>
    public static T[] ReadArray<T>(BinaryReader reader) where T : unmanaged
    {
        var values = new T[reader.ReadInt32()];
        reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
