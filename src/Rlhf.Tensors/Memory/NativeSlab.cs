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
        void* memory;
        if (huge)
        {
            // Large slabs are fresh anonymous mappings: already zero, and a page costs memory only once written, so
            // storage nobody writes (a frozen model's gradients, weights kept elsewhere in bf16) never becomes resident.
            memory = MMap(null, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if (memory == MapFailed) throw new OutOfMemoryException($"Cannot map {bytes} bytes of native memory.");
            mapped = true;
            // They ask for transparent huge pages: fewer page faults on first touch and fewer TLB misses when kernels
            // stream through them. Only advice; ignored where unsupported.
            _ = MAdvise(memory, bytes, MadviseHugePage);
        }
        else
        {
            memory = NativeMemory.AlignedAlloc(bytes, Alignment);
            if (memory == null) throw new OutOfMemoryException($"Cannot allocate {bytes} bytes of native memory.");
            if (zeroed) NativeMemory.Clear(memory, bytes);
        }
        SetHandle((IntPtr)memory);
        if (bytes > 0) GC.AddMemoryPressure((long)bytes);
        bytesReported = (long)bytes;
        allocatedOnThread += (long)bytes;
    }

    private readonly long bytesReported;
    private readonly bool mapped;

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

    /// <summary>
    /// Gives the whole pages inside floats [<paramref name="offset"/>, offset + <paramref name="length"/>) back to the
    /// system (madvise MADV_DONTNEED on a mapped slab): they stop counting as resident memory and read as zeros until
    /// written again. For storage whose values now live elsewhere (a frozen weight kept packed in bf16). Returns the
    /// bytes given back (0 for a slab that is not a mapping, or a range holding no whole page).
    /// </summary>
    public long Discard(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        if (!mapped || length == 0) return 0;
        long start = (long)Pointer + offset * sizeof(float), end = start + length * sizeof(float);
        long page = Environment.SystemPageSize;
        long first = (start + page - 1) & ~(page - 1), last = end & ~(page - 1);
        if (last <= first) return 0;
        if (MAdvise((void*)first, (nuint)(last - first), MadviseDontNeed) != 0)
            throw new InvalidOperationException($"madvise(MADV_DONTNEED) failed on {last - first} bytes (errno {Marshal.GetLastPInvokeError()}).");
        return last - first;
    }

    private const int MadviseDontNeed = 4; // MADV_DONTNEED
    private const nuint HugePageBytes = 2 << 20;
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE

    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20;
    private static readonly void* MapFailed = (void*)-1;

    [DllImport("libc", EntryPoint = "mmap")]
    private static extern void* MMap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int MUnmap(void* address, nuint length);

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int MAdvise(void* address, nuint length, int advice);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        if (mapped) _ = MUnmap((void*)handle, (nuint)bytesReported);
        else NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure(bytesReported);
        return true;
    }
}
