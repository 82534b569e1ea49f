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

    /// <summary>Floats in use right now, and the most ever used in one step.</summary>
    public long Used => used + overflowFloats;
    public long Capacity => slab.Length;

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
            return tensor;
        }
        var chunk = new NativeSlab(length, zeroed: false);
        overflow.Add(chunk);
        overflowFloats += padded;
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
    }

    public void Dispose()
    {
        foreach (var chunk in overflow) chunk.Dispose();
        slab.Dispose();
    }
}
