// Persistent worker threads for the managed GEMM: one call's parts run without per-call allocation.
namespace Rlhf.Tensors;

internal static class GemmThreadPool
{
    private static readonly object Gate = new();
    private static readonly ManualResetEventSlim Done = new(false);
    private static Worker[] workers = [];
    private static ManagedGemm.Job job;
    private static int pending;
    private static Exception? failure;

    /// <summary>
    /// Runs parts 1..Parts-1 of <paramref name="work"/> on workers and part 0 here. Returns false (nothing run)
    /// when another thread is already using the pool, so the caller computes on its own thread instead.
    /// </summary>
    public static bool TryRun(ref ManagedGemm.Job work)
    {
        if (!Monitor.TryEnter(Gate)) return false;
        try
        {
            EnsureWorkers(work.Parts - 1);
            job = work;
            failure = null;
            pending = work.Parts - 1;
            Done.Reset();
            for (int i = 1; i < work.Parts; i++) workers[i - 1].Start.Release();
            try
            {
                job.RunPart(0);
            }
            finally
            {
                Done.Wait();
            }
            if (failure is not null) throw new AggregateException("GEMM worker failed.", failure);
            return true;
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (workers.Length >= count) return;
        var grown = new Worker[count];
        Array.Copy(workers, grown, workers.Length);
        for (int i = workers.Length; i < count; i++) grown[i] = new Worker(i + 1);
        workers = grown;
    }

    private sealed class Worker
    {
        public readonly SemaphoreSlim Start = new(0);
        private readonly int part;

        public Worker(int part)
        {
            this.part = part;
            new Thread(Loop) { IsBackground = true, Name = $"gemm-{part}" }.Start();
        }

        private void Loop()
        {
            while (true)
            {
                Start.Wait();
                try
                {
                    job.RunPart(part);
                }
                catch (Exception e)
                {
                    failure = e;
                }
                if (Interlocked.Decrement(ref pending) == 0) Done.Set();
            }
        }
    }
}
