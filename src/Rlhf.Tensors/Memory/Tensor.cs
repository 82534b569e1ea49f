// A tensor: a row-major shape over a contiguous range of a native slab.
using System.Runtime.CompilerServices;

namespace Rlhf.Tensors;

/// <summary>A row-major view of <c>float</c> data living in a <see cref="NativeSlab"/>.</summary>
internal sealed unsafe class Tensor
{
    private readonly NativeSlab slab;
    private readonly long offset;

    public int[] Shape { get; }

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public long Length { get; }

    public Tensor(NativeSlab slab, long offset, params int[] shape)
    {
        long length = ElementCount(shape);
        if (offset < 0 || offset + length > slab.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"A tensor of shape [{string.Join(", ", shape)}] at offset {offset} does not fit in a slab of {slab.Length} floats.");
        this.slab = slab;
        this.offset = offset;
        Shape = (int[])shape.Clone();
        Length = length;
    }

    /// <summary>Allocates a zeroed tensor with its own slab.</summary>
    public static Tensor Zeros(params int[] shape) => new(new NativeSlab(ElementCount(shape)), 0, shape);

    public static Tensor FromArray(float[] values, params int[] shape)
    {
        var tensor = Zeros(shape);
        if (values.Length != tensor.Length)
            throw new ArgumentException($"{values.Length} values do not fill shape [{string.Join(", ", shape)}].", nameof(values));
        values.CopyTo(tensor.Span);
        return tensor;
    }

    public static long ElementCount(int[] shape)
    {
        long count = 1;
        foreach (int dimension in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dimension);
            count *= dimension;
        }
        return count;
    }

    public float* Pointer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => slab.Pointer + offset;
    }

    public Span<float> Span => new(Pointer, checked((int)Length));

    /// <summary>A view of the same data with another shape of equal size.</summary>
    public Tensor Reshape(params int[] shape)
    {
        if (ElementCount(shape) != Length)
            throw new ArgumentException($"Cannot view [{string.Join(", ", Shape)}] as [{string.Join(", ", shape)}].");
        return new Tensor(slab, offset, shape);
    }

    public void Zero() => Span.Clear();

    /// <summary>Gives the whole pages under this tensor back to the system (see <see cref="NativeSlab.Discard"/>); its
    /// values are lost (they read as zeros there). Returns the bytes given back.</summary>
    public long Discard() => slab.Discard(offset, Length);

    public void CopyFrom(Tensor source)
    {
        if (source.Length != Length) throw new ArgumentException("Tensor sizes differ.");
        source.Span.CopyTo(Span);
    }

    public float[] ToArray() => Span.ToArray();

    public override string ToString() => $"Tensor[{string.Join(", ", Shape)}]";
}
