// Splits row-parallel kernel work across the worker threads (one per core).
namespace Rlhf.Tensors;

internal static class Parallelism
{
    private static int threadCount = Environment.ProcessorCount;

    /// <summary>Threads kernels may use (default: one per core). Same count, same results.</summary>
    public static int ThreadCount
    {
        get => threadCount;
        set => threadCount = Math.Max(1, value);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over contiguous ranges covering [0, count), one range per
    /// thread; runs inline when the work is small (fewer than <paramref name="minPerThread"/> items a thread).
    /// Ranges depend only on count and thread count, so results are deterministic.
    /// </summary>
    public static void For(int count, int minPerThread, Action<int, int> body)
    {
        if (count <= 0) return;
        int threads = Math.Min(threadCount, Math.Max(1, count / Math.Max(1, minPerThread)));
        if (threads <= 1)
        {
            body(0, count);
            return;
        }
        var job = new RangeJob { Body = body, Count = count, Parts = threads };
        if (WorkerPool.TryRun(ref job)) return;
        // The workers are busy (another thread's kernel): the same ranges, one after the other, so results match.
        for (int part = 0; part < threads; part++) job.RunPart(part);
    }

    private struct RangeJob : IParallelJob
    {
        public Action<int, int> Body;
        public int Count;
        public int Parts { readonly get; set; }

        public readonly void RunPart(int part)
        {
            int start = (int)((long)Count * part / Parts);
            int end = (int)((long)Count * (part + 1) / Parts);
            if (end > start) Body(start, end);
        }
    }
}
