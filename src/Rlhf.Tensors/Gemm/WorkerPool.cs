// Persistent worker threads for the kernels: one call's parts run without per-call allocation.
using System.Diagnostics;

namespace Rlhf.Tensors;

/// <summary>A job split into <see cref="Parts"/> independent parts, run by <see cref="WorkerPool"/>.</summary>
internal interface IParallelJob
{
    int Parts { get; }

    void RunPart(int part);
}

internal static class WorkerPool
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 5_000; // 200 µs
    private static readonly object Gate = new();
    private static readonly ManualResetEventSlim Done = new(false);
    private static Worker[] workers = [];
    private static Action<int> runPart = _ => { };
    private static int pending;
    private static Exception? failure;

    /// <summary>
    /// Runs parts 1..Parts-1 of <paramref name="work"/> on workers and part 0 here. Returns false (nothing run)
    /// when another thread is already using the pool, so the caller computes on its own thread instead.
    /// </summary>
    public static bool TryRun<TJob>(ref TJob work) where TJob : struct, IParallelJob
    {
        if (!Monitor.TryEnter(Gate)) return false;
        try
        {
            int parts = work.Parts;
            EnsureWorkers(parts - 1);
            Slot<TJob>.Job = work;
            runPart = Slot<TJob>.Run;
            failure = null;
            pending = parts - 1;
            Done.Reset();
            for (int i = 1; i < parts; i++) workers[i - 1].Start.Release();
            try
            {
                Slot<TJob>.Job.RunPart(0);
            }
            finally
            {
                Done.Wait();
            }
            if (failure is not null) throw new AggregateException("A kernel worker failed.", failure);
            return true;
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    // One static slot per job type, so handing a job to the workers neither boxes nor allocates.
    private static class Slot<TJob> where TJob : struct, IParallelJob
    {
        public static TJob Job;
        public static readonly Action<int> Run = part => Job.RunPart(part);
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
            new Thread(Loop) { IsBackground = true, Name = $"kernel-worker-{part}" }.Start();
        }

        private void Loop()
        {
            while (true)
            {
                // Kernels come in quick succession (a decode step is ~100 of them): spin briefly before sleeping,
                // since waking a blocked thread costs more than most of those kernels.
                long deadline = Stopwatch.GetTimestamp() + SpinTicks;
                while (Start.CurrentCount == 0 && Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(32);
                Start.Wait();
                try
                {
                    runPart(part);
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
