// Per-thread, 64-byte aligned packing buffers for the managed GEMM; grown on demand, freed when the thread dies.
using System.Runtime.InteropServices;

namespace Rlhf.Tensors;

internal sealed unsafe class GemmBuffers
{
    [ThreadStatic] private static GemmBuffers? current;

    private nuint capacityA, capacityB, capacityTile;

    public float* A { get; private set; }
    public float* B { get; private set; }
    public float* Tile { get; private set; }

    /// <summary>This thread's buffers with room for at least the given float counts.</summary>
    public static GemmBuffers ForCurrentThread(int floatsA, int floatsB, int floatsTile)
    {
        var buffers = current ??= new GemmBuffers();
        buffers.A = Ensure(buffers.A, ref buffers.capacityA, floatsA);
        buffers.B = Ensure(buffers.B, ref buffers.capacityB, floatsB);
        buffers.Tile = Ensure(buffers.Tile, ref buffers.capacityTile, floatsTile);
        return buffers;
    }

    private static float* Ensure(float* buffer, ref nuint capacity, int floats)
    {
        if ((nuint)floats <= capacity) return buffer;
        if (buffer != null) NativeMemory.AlignedFree(buffer);
        capacity = (nuint)floats;
        return (float*)NativeMemory.AlignedAlloc(capacity * sizeof(float), 64);
    }

    ~GemmBuffers()
    {
        if (A != null) NativeMemory.AlignedFree(A);
        if (B != null) NativeMemory.AlignedFree(B);
        if (Tile != null) NativeMemory.AlignedFree(Tile);
    }
}
