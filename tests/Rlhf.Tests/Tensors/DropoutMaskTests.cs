// The counter-based dropout mask (DropoutMask): sixteen-lane = one-at-a-time, same seed same mask, keep rate 1 − p
// within a stated number of standard deviations, neighbours and seeds independent, kept values scaled by 1/(1 − p);
// a mask stored as bits (what the LoRA ops keep for backward) reads back the hash's values exactly at any offset.
using Rlhf.Tensors.Kernels;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class DropoutMaskTests
{
    [Theory]
    [InlineData(0.05f)]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void KeepRateIsOneMinusPAndNeighboursAreIndependent(float p)
    {
        const int count = 1 << 20;
        var mask = new DropoutMask(p, 1234);
        int dropped = 0, bothDropped = 0;
        bool previous = false;
        for (int i = 0; i < count; i++)
        {
            bool drop = mask.Value(i) == 0f;
            dropped += drop ? 1 : 0;
            bothDropped += drop && previous ? 1 : 0;
            previous = drop;
        }
        // Binomial(n, p): 6 standard deviations (√(p(1−p)/n) ≤ 4.9e-4 at n = 2²⁰) — a false failure is < 1e-8 likely.
        double rate = (double)dropped / count, sigma = Math.Sqrt(p * (1 - p) / count);
        Assert.True(Math.Abs(rate - p) <= 6 * sigma, $"dropped {rate:F5}, expected {p} ± {6 * sigma:F5}");
        double pairs = (double)bothDropped / (count - 1), pairSigma = Math.Sqrt(p * p * (1 - p * p) / count);
        Assert.True(Math.Abs(pairs - p * p) <= 6 * pairSigma + 1e-4, $"adjacent pairs both dropped {pairs:F5}, expected {p * p:F5}");
        Assert.Equal(1f / (1f - p), Enumerable.Range(0, 100).Select(i => mask.Value(i)).First(v => v != 0f));
    }

    [Fact]
    public void TheVectorMaskEqualsTheScalarOneAndRepeatsForTheSameSeed()
    {
        var mask = new DropoutMask(0.3f, 77);
        var again = new DropoutMask(0.3f, 77);
        foreach (long start in new long[] { 0, 5, 1000, (1L << 32) - 8, (1L << 32) + 3, 5L << 33 })
        {
            var lanes = mask.Vector(start);
            var repeated = again.Vector(start);
            for (int i = 0; i < 16; i++)
            {
                Assert.Equal(mask.Value(start + i), lanes[i]);
                Assert.Equal(lanes[i], repeated[i]);
            }
        }
    }

    [Fact]
    public void OtherSeedsDrawIndependentMasks()
    {
        const int count = 1 << 18;
        const float p = 0.5f;
        foreach (ulong other in new ulong[] { 2, 3, 1UL << 40, ulong.MaxValue })
        {
            var (first, second) = (new DropoutMask(p, 1), new DropoutMask(p, other));
            int agree = 0;
            for (int i = 0; i < count; i++) agree += (first.Value(i) == 0f) == (second.Value(i) == 0f) ? 1 : 0;
            // Independent masks agree with probability p² + (1 − p)² = 0.5; 6 standard deviations of 2¹⁸ draws ≈ 0.0059.
            Assert.InRange((double)agree / count, 0.5 - 0.006, 0.5 + 0.006);
        }
    }

    [Fact]
    public void MultiplyMatchesTheMaskAtAnyOffset()
    {
        const int count = 16 * 1024 * 3 + 7; // several parallel chunks and a tail
        var input = new float[count];
        for (int i = 0; i < count; i++) input[i] = 1 + i % 7;
        var output = new float[count];
        var mask = new DropoutMask(0.2f, 9);
        fixed (float* x = input, y = output)
        {
            DropoutKernels.Multiply(y, x, count, mask, first: 3);
            for (int i = 0; i < count; i++) Assert.Equal(mask.Value(3 + i) * input[i], output[i]);
            DropoutKernels.Multiply(y, x, count, mask, accumulate: true, first: 3);
            for (int i = 0; i < count; i++) Assert.Equal(2 * mask.Value(3 + i) * input[i], output[i]);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new DropoutMask(1f, 0));
        Assert.False(new DropoutMask(0f, 0).Enabled);
    }

    [Theory]
    [InlineData(0.05f, 16 * 1024 * 3 + 7)]
    [InlineData(0.5f, 16 * 1024 * 3 + 7)]
    [InlineData(0.3f, 5)]
    [InlineData(0.9f, 48)]
    public void StoredBitsReadBackTheHashedMaskAtAnyOffset(float p, int count)
    {
        var mask = new DropoutMask(p, 31);
        var bits = new byte[DropoutMask.StoredBytes(count)];
        Array.Fill(bits, (byte)0xA5); // StoreBits writes every byte, the padding included
        fixed (byte* storage = bits)
        {
            DropoutKernels.StoreBits((ushort*)storage, count, mask);
            var stored = mask.Stored((ushort*)storage);
            for (int i = 0; i < count; i++) Assert.Equal(mask.Value(i), stored.Value(i));
            for (int start = 0; start + 16 <= count; start += start < 64 ? 1 : 97)
            {
                var lanes = stored.Vector(start);
                for (int i = 0; i < 16; i++) Assert.Equal(mask.Value(start + i), lanes[i]);
            }
            for (long i = count; i < (count + 15) / 16 * 16; i++) Assert.Equal(0, (bits[i / 8] >> (int)(i % 8)) & 1);
            for (long i = (count + 15) / 16 * 2; i < bits.Length; i++) Assert.Equal(0, bits[i]);
        }
        var off = new DropoutMask(0f, 31);
        Assert.Equal(1f, off.Stored(null).Value(3));
    }
}
