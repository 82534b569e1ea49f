// The KV-cache attention kernel: fed a sequence in pieces (a prefill, then one token at a time), every output must
// equal full causal attention over the whole sequence, with left padding; SIMD and scalar paths agree.
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class CachedAttentionTests
{
    private readonly TestTensors tensors = new(99);

    [Theory]
    [InlineData(2, 9, 4, 3, 5)]     // head size 4: no full vector; prefill 3, then six single tokens
    [InlineData(2, 37, 16, 2, 20)]  // capacity not a multiple of 16
    [InlineData(1, 70, 64, 2, 1)]   // GPT-2's head size; more than 64 slots (the four-vector score loop)
    [InlineData(3, 50, 24, 3, 17)]  // head size 24: one vector plus a tail
    public void PiecewiseDecodingEqualsFullCausalAttention(int batch, int tokens, int headSize, int heads, int prefill)
    {
        int channels = headSize * heads, capacity = tokens + 3;
        var qkv = tensors.Random(batch, tokens, 3 * channels);
        var fullMask = tensors.Zeros(batch, tokens);
        var cacheMask = tensors.Zeros(batch, capacity);
        for (int b = 0; b < batch; b++)
        {
            int padding = b == 1 ? Math.Min(2, prefill) : 0; // row 1 left-padded
            for (int t = 0; t < tokens; t++)
            {
                float real = t >= padding ? 1f : 0f;
                fullMask.Span[b * tokens + t] = real;
                cacheMask.Span[b * capacity + t] = real;
            }
        }
        var expected = tensors.Zeros(batch, tokens, channels);
        var probs = tensors.Zeros(batch, heads, tokens, tokens);
        AttentionKernels.ForwardScalar(expected.Pointer, probs.Pointer, qkv.Pointer, fullMask.Pointer, batch, tokens, channels, heads);

        foreach (bool vectorized in new[] { true, false })
        {
            int stride = CachedAttentionKernels.KeyStride(capacity);
            var keys = tensors.Zeros(batch, heads, headSize, stride);
            var values = tensors.Zeros(batch, heads, capacity, headSize);
            keys.Span.Fill(float.NaN); // the cache is not zeroed: slots not yet written must never reach an output
            values.Span.Fill(float.NaN);
            for (int start = 0; start < tokens;)
            {
                int n = start == 0 ? prefill : 1;
                var piece = tensors.Zeros(batch, n, 3 * channels);
                for (int b = 0; b < batch; b++)
                    qkv.Span.Slice((b * tokens + start) * 3 * channels, n * 3 * channels).CopyTo(piece.Span.Slice(b * n * 3 * channels));
                var output = tensors.Zeros(batch, n, channels);
                output.Span.Fill(float.NaN); // must be overwritten
                if (vectorized)
                    CachedAttentionKernels.Forward(output.Pointer, piece.Pointer, keys.Pointer, values.Pointer, cacheMask.Pointer, batch, n, start, capacity, channels, heads);
                else
                    CachedAttentionKernels.ForwardScalar(output.Pointer, piece.Pointer, keys.Pointer, values.Pointer, cacheMask.Pointer, batch, n, start, capacity, channels, heads);
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < channels; c++)
                        {
                            float want = expected.Span[(b * tokens + start + i) * channels + c];
                            float got = output.Span[(b * n + i) * channels + c];
                            Assert.True(Math.Abs(want - got) <= 1e-5 + 1e-5 * Math.Abs(want),
                                $"{(vectorized ? "SIMD" : "scalar")} b={b} t={start + i} c={c}: expected {want}, got {got}");
                        }
                start += n;
            }
        }
    }
}
