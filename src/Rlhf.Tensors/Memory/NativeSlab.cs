// A 64-byte aligned block of native memory holding floats, freed by its SafeHandle.
using System.Runtime.InteropServices;

namespace Rlhf.Tensors;

/// <summary>Aligned native memory for <see cref="float"/> data, zero-initialised unless asked otherwise.</summary>
internal sealed unsafe class NativeSlab : SafeHandle
{
    public const int Alignment = 64;

    /// <summary>Number of floats the slab holds.</summary>
    public long Length { get; }

    /// <param name="zeroed">False leaves the contents undefined (for buffers whose users overwrite or zero what they
    /// use, like the step arena): untouched pages are then never faulted in.</param>
    public NativeSlab(long length, bool zeroed = true) : base(IntPtr.Zero, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        nuint bytes = (nuint)Math.Max(1, length) * sizeof(float);
        bool huge = bytes >= HugePageBytes && OperatingSystem.IsLinux();
        void* memory = NativeMemory.AlignedAlloc(bytes, huge ? HugePageBytes : Alignment);
        if (memory == null) throw new OutOfMemoryException($"Cannot allocate {bytes} bytes of native memory.");
        // Large slabs (weights, moments, activations) ask for transparent huge pages: fewer page faults on first
        // touch and fewer TLB misses when kernels stream through them. Only advice; ignored where unsupported.
        if (huge) _ = MAdvise(memory, bytes, MadviseHugePage);
        if (zeroed) NativeMemory.Clear(memory, bytes);
        SetHandle((IntPtr)memory);
        if (bytes > 0) GC.AddMemoryPressure((long)bytes);
        bytesReported = (long)bytes;
        allocatedOnThread += (long)bytes;
    }

    private readonly long bytesReported;

    [ThreadStatic] private static long allocatedOnThread;

    /// <summary>Native bytes allocated by slabs on the calling thread since it started (never decreases), the native
    /// counterpart of <see cref="GC.GetAllocatedBytesForCurrentThread"/>: the difference around a call bounds what it allocated.</summary>
    public static long BytesAllocatedOnCurrentThread => allocatedOnThread;

    public float* Pointer => (float*)handle;

    /// <summary>Copies every float into a slab of the same length (e.g. one parameter set into an identical one).</summary>
    public void CopyTo(NativeSlab destination)
    {
        if (destination.Length != Length) throw new ArgumentException($"Slab sizes differ ({Length} vs {destination.Length}).");
        Buffer.MemoryCopy(Pointer, destination.Pointer, destination.Length * 4L, Length * 4L);
    }

    private const nuint HugePageBytes = 2 << 20;
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int MAdvise(void* address, nuint length, int advice);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure(bytesReported);
        return true;
    }
}
