// Before a data-parallel run writes anything, every rank hashes what it loaded — the model's weights, the data, the
// options — and rank 0 compares: ranks that disagree would train different models while averaging their gradients.
using System.Security.Cryptography;
using System.Text;

namespace Rlhf.Distributed;

internal static class RunAgreement
{
    private static readonly string[] Parts = ["model", "data", "options"];

    /// <summary>SHA-256 of <paramref name="bytes"/> (one part's fingerprint).</summary>
    public static byte[] Hash(ReadOnlySpan<byte> bytes) => SHA256.HashData(bytes);

    /// <summary>
    /// Compares every rank's fingerprints (model, data, options; 32 bytes each) with rank 0's. On a mismatch every rank
    /// throws: rank 0 says which ranks differ in what, the others throw <see cref="RankFailedElsewhereException"/>.
    /// </summary>
    public static void Check(ICommunicator communicator, byte[] model, byte[] data, byte[] options)
    {
        if (communicator.Size == 1) return;
        byte[] mine = [.. model, .. data, .. options];
        var all = communicator.AllGather(mine);
        var problems = new List<string>();
        for (int rank = 1; rank < communicator.Size; rank++)
        {
            var differing = Parts.Where((_, part) => !all.AsSpan(rank * mine.Length + part * 32, 32).SequenceEqual(all.AsSpan(part * 32, 32))).ToArray();
            if (differing.Length > 0) problems.Add($"rank {rank} ({string.Join(", ", differing)})");
        }
        if (problems.Count == 0) return;
        if (communicator.Rank != 0) throw new RankFailedElsewhereException();
        var message = new StringBuilder("the ranks of this mpirun job did not load the same run: ")
            .Append(string.Join("; ", problems))
            .Append(" differ from rank 0; give every machine the same model folder, data files and options. Nothing was written.");
        throw new InvalidOperationException(message.ToString());
    }
}

/// <summary>A failure another rank (rank 0) reports; this rank exits non-zero without repeating it.</summary>
internal sealed class RankFailedElsewhereException() : Exception("another rank reported the error");
