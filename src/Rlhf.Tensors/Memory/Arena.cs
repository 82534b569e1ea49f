// Bump allocator for per-step activations and their gradients: sized on the first step, reused after.
namespace Rlhf.Tensors;

/// <summary>
/// Hands out zeroed tensors from one slab. <see cref="Reset"/> frees everything at once; if a step
/// needed more than the slab held, overflow chunks are used and the slab grows to fit at the next reset,
/// so a training loop with fixed shapes allocates nothing after its first step.
/// </summary>
internal sealed class Arena : IDisposable
{
    private NativeSlab slab;
    private long used;
    private readonly List<NativeSlab> overflow = [];
    private long overflowFloats;
    private readonly Dictionary<long, Stack<Tensor>> recycled = [];

    // Slabs are not zeroed up front: Allocate zeroes each tensor it hands out, AllocateUninitialized promises nothing.
    public Arena(long initialFloats = 1 << 20) => slab = new NativeSlab(initialFloats, zeroed: false);

    /// <summary>Floats in use right now.</summary>
    public long Used => used + overflowFloats;
    public long Capacity => slab.Length;

    /// <summary>
    /// The most floats in use at once, this arena's and its segment arena's together, since the arena was made or
    /// <see cref="ResetPeak"/> was called (what a step's activations and gradients needed at their peak).
    /// </summary>
    public long PeakUsed { get; private set; }

    public void ResetPeak() => PeakUsed = InUseWithSegment;

    private long InUseWithSegment => Used + (segment?.InUseWithSegment ?? 0);

    private void NotePeak()
    {
        PeakUsed = Math.Max(PeakUsed, InUseWithSegment);
        parent?.NotePeak();
    }

    private Arena? segment;
    private readonly Arena? parent;

    private Arena(Arena parent) : this() => this.parent = parent;

    /// <summary>
    /// A second arena, made on first use and reused, for the intermediates of one recomputed segment
    /// (<see cref="Ops.Checkpoint"/>): they live there only while that segment runs.
    /// </summary>
    internal Arena Segment => segment ??= new Arena(this);

    /// <summary>A zeroed tensor (for gradients, which kernels add into).</summary>
    public Tensor Allocate(params int[] shape)
    {
        long length = Tensor.ElementCount(shape);
        var tensor = recycled.TryGetValue(length, out var stack) && stack.Count > 0
            ? stack.Pop().Reshape(shape)
            : AllocateUninitialized(shape);
        tensor.Zero();
        return tensor;
    }

    /// <summary>A tensor whose contents are garbage (for outputs a kernel overwrites completely).</summary>
    public Tensor AllocateUninitialized(params int[] shape)
    {
        long length = Tensor.ElementCount(shape);
        long padded = (length + 15) & ~15L; // keep every tensor 64-byte aligned
        if (used + padded <= slab.Length)
        {
            var tensor = new Tensor(slab, used, shape);
            used += padded;
            NotePeak();
            return tensor;
        }
        var chunk = new NativeSlab(length, zeroed: false);
        overflow.Add(chunk);
        overflowFloats += padded;
        NotePeak();
        return new Tensor(chunk, 0, shape);
    }

    /// <summary>
    /// Returns a dead tensor (e.g. an activation gradient already consumed by backward) for reuse by a later
    /// <see cref="Allocate"/> of the same size in this step; keeps backward's peak memory near one layer's worth.
    /// </summary>
    public void Recycle(Tensor tensor)
    {
        if (!recycled.TryGetValue(tensor.Length, out var stack)) recycled[tensor.Length] = stack = new Stack<Tensor>();
        stack.Push(tensor);
    }

    /// <summary>Releases every tensor handed out since the last reset (they must not be used again).</summary>
    public void Reset()
    {
        if (overflow.Count > 0)
        {
            long needed = used + overflowFloats;
            foreach (var chunk in overflow) chunk.Dispose();
            overflow.Clear();
            overflowFloats = 0;
            slab.Dispose();
            slab = new NativeSlab(needed + needed / 8, zeroed: false);
        }
        used = 0;
        recycled.Clear();
        segment?.Reset();
    }

    public void Dispose()
    {
        foreach (var chunk in overflow) chunk.Dispose();
        slab.Dispose();
        segment?.Dispose();
    }
}
