// A low-rank update added to a linear layer's output, fused (LoRA, Hu et al. 2021; PEFT's lora.Linear.forward:
// result + lora_B(lora_A(dropout(x))) · scaling): y += s·(drop(x)·Aᵀ)·Bᵀ with A [r, in], B [out, r] and r small.
// Forward reads x once (the dropout mask applied as x is read) and updates y in place; backward reads the output
// gradient g once for dB and dlow = s·g·B, then x once for dA += dlowᵀ·drop(x) and dx += mask·(dlow·A). Only
// low = drop(x)·Aᵀ [N, r] (and, from the ops, the mask's bits) is kept between them. The thin products run on
// twelve-row tiles with the rank in the vector lanes (LowRankTiles.cs).
using System.Runtime.Intrinsics;

namespace Rlhf.Tensors.Kernels;

internal static unsafe partial class LowRankKernels
{
    private const int RowBlock = 4; // rows per y update (AddTimesTransposed4)
    [ThreadStatic] private static float[]? forwardScratch, backwardScratch;

    // Scratch whose vectors are 64-byte aligned (a 512-bit load across two cache lines costs two).
    private static float* Aligned(ref float[]? cache, long length) => Aligned(KernelSupport.Scratch(ref cache, length + 16));

    private static float* Aligned(float* pointer) => (float*)(((nuint)pointer + 63) & ~(nuint)63);

    /// <summary>The rank rounded up to whole vectors of 16 (the padded width of the kernels' r-wide rows).</summary>
    public static int PaddedRank(int rank) => (rank + 15) & ~15;

    /// <summary>
    /// low [N, r] = drop(x)·Aᵀ and y [N, out] += scale·low·Bᵀ, with x [N, in], A [r, in], B [out, r]; drop(x)[n, k] =
    /// mask[n·in + k]·x[n, k]. y null: low only (B unread). Parallel over tiles of twelve rows.
    /// </summary>
    public static void Forward(float* y, float* low, float* x, float* a, float* b, int rows, int inputs, int outputs, int rank,
        float scale, DropoutMask mask)
    {
        if (rows == 0) return;
        if (!Vector512.IsHardwareAccelerated)
        {
            ForwardScalar(y, low, x, a, b, rows, inputs, outputs, rank, scale, mask);
            return;
        }
        int padded = PaddedRank(rank);
        // Aᵀ zero-padded to [in, r'] (the rank in the lanes) and scale·Bᵀ [r, out].
        float* scratch = Aligned(ref forwardScratch, (long)inputs * padded + (long)rank * outputs);
        float* at = scratch, bt = scratch + (long)inputs * padded;
        new Span<float>(at, inputs * padded).Clear();
        for (int j = 0; j < rank; j++)
            for (int k = 0; k < inputs; k++) at[(long)k * padded + j] = a[(long)j * inputs + k];
        for (int j = 0; j < rank; j++)
            for (int o = 0; o < outputs; o++) bt[(long)j * outputs + o] = scale * b[(long)o * rank + j];
        int tiles = (rows + TileRows - 1) / TileRows;
        Parallelism.For(tiles, 2, (first, last) => ForwardTiles(y, low, x, at, bt, rows, inputs, outputs, rank, padded, mask, first, last));
    }

    /// <summary>low [N, r] = drop(x)·Aᵀ alone (the update itself added elsewhere, e.g. inside the base GEMM).</summary>
    public static void Low(float* low, float* x, float* a, int rows, int inputs, int rank, DropoutMask mask) =>
        Forward(null, low, x, a, null, rows, inputs, 0, rank, 0f, mask);

    [ThreadStatic] private static float[]? tileRows, gradientRows;

    private static void ForwardTiles(float* y, float* low, float* x, float* at, float* bt, int rows, int inputs, int outputs, int rank,
        int padded, DropoutMask mask, int firstTile, int lastTile)
    {
        float* lowStack = stackalloc float[TileRows * padded + 16];
        float* lowRows = Aligned(lowStack);
        float* buffer = Aligned(ref tileRows, (long)TileRows * DepthChunk); // this thread's
        for (int tile = firstTile; tile < lastTile; tile++)
        {
            int n0 = tile * TileRows, count = Math.Min(TileRows, rows - n0);
            for (int k0 = 0; k0 < inputs; k0 += DepthChunk)
            {
                int depth = Math.Min(DepthChunk, inputs - k0);
                float* source = Rows(buffer, x, inputs, n0, count, k0, depth, mask, out nint stride);
                for (int lane = 0; lane < padded; lane += 16)
                    RowsTimesThin(source, stride, at + (long)k0 * padded + lane, padded, depth, lowRows + lane, padded, accumulate: k0 > 0);
            }
            for (int i = 0; i < count; i++)
                Buffer.MemoryCopy(lowRows + i * padded, low + (long)(n0 + i) * rank, rank * 4L, rank * 4L);
            if (y == null) continue;
            for (int s = 0; s < count; s += 4)
            {
                if (count - s >= 4) AddTimesTransposed4(y + (long)(n0 + s) * outputs, outputs, lowRows + s * padded, padded, bt, rank);
                else
                    for (int i = s; i < count; i++) AddTimesTransposed1(y + (long)(n0 + i) * outputs, outputs, lowRows + i * padded, bt, rank);
            }
        }
    }

    /// <summary>
    /// Columns k0..k0+depth of rows n0.. (twelve) of drop(x) [·, width]: x itself when the tile is whole and undropped,
    /// else a copy in <paramref name="buffer"/> (row stride depth) with the mask applied and the rows past the count zero.
    /// </summary>
    private static float* Rows(float* buffer, float* x, int width, int n0, int count, int k0, int depth, DropoutMask mask, out nint stride)
    {
        if (count == TileRows && !mask.Enabled)
        {
            stride = width;
            return x + (long)n0 * width + k0;
        }
        stride = depth;
        for (int i = 0; i < TileRows; i++)
        {
            float* target = buffer + (long)i * depth;
            if (i >= count)
            {
                new Span<float>(target, depth).Clear();
                continue;
            }
            long first = (long)(n0 + i) * width + k0;
            float* row = x + first;
            int k = 0;
            // Stored bits (training) in a loop of their own: the hashed mask's rare out-of-line call would spill this one.
            if (mask.IsStored)
                for (; k <= depth - 16; k += 16) (Vector512.Load(row + k) * mask.StoredVector(first + k)).Store(target + k);
            else
                for (; k <= depth - 16; k += 16) (Vector512.Load(row + k) * mask.Vector(first + k)).Store(target + k);
            for (; k < depth; k++) target[k] = row[k] * mask.Value(first + k);
        }
        return buffer;
    }

    // Columns of drop(x) per pass of a tile: twelve rows of them (12 KiB) stay in L1.
    private const int DepthChunk = 256;


    /// <summary>y[i, :] += Σ_j lowRows[i, j]·bt[j, :] for four rows of y (ldy = outputs): 4 rows × 64 columns in registers.</summary>
    private static void AddTimesTransposed4(float* y, int outputs, float* lowRows, int padded, float* bt, int rank)
    {
        float* y0 = y, y1 = y + outputs, y2 = y1 + outputs, y3 = y2 + outputs;
        float* l0 = lowRows, l1 = l0 + padded, l2 = l1 + padded, l3 = l2 + padded;
        int o = 0;
        for (; o <= outputs - 64; o += 64)
        {
            var a00 = Vector512.Load(y0 + o); var a01 = Vector512.Load(y0 + o + 16); var a02 = Vector512.Load(y0 + o + 32); var a03 = Vector512.Load(y0 + o + 48);
            var a10 = Vector512.Load(y1 + o); var a11 = Vector512.Load(y1 + o + 16); var a12 = Vector512.Load(y1 + o + 32); var a13 = Vector512.Load(y1 + o + 48);
            var a20 = Vector512.Load(y2 + o); var a21 = Vector512.Load(y2 + o + 16); var a22 = Vector512.Load(y2 + o + 32); var a23 = Vector512.Load(y2 + o + 48);
            var a30 = Vector512.Load(y3 + o); var a31 = Vector512.Load(y3 + o + 16); var a32 = Vector512.Load(y3 + o + 32); var a33 = Vector512.Load(y3 + o + 48);
            float* w = bt + o;
            for (int j = 0; j < rank; j++, w += outputs)
            {
                var b0 = Vector512.Load(w); var b1 = Vector512.Load(w + 16); var b2 = Vector512.Load(w + 32); var b3 = Vector512.Load(w + 48);
                var c = Vector512.Create(l0[j]);
                a00 = Vector512.FusedMultiplyAdd(c, b0, a00); a01 = Vector512.FusedMultiplyAdd(c, b1, a01);
                a02 = Vector512.FusedMultiplyAdd(c, b2, a02); a03 = Vector512.FusedMultiplyAdd(c, b3, a03);
                c = Vector512.Create(l1[j]);
                a10 = Vector512.FusedMultiplyAdd(c, b0, a10); a11 = Vector512.FusedMultiplyAdd(c, b1, a11);
                a12 = Vector512.FusedMultiplyAdd(c, b2, a12); a13 = Vector512.FusedMultiplyAdd(c, b3, a13);
                c = Vector512.Create(l2[j]);
                a20 = Vector512.FusedMultiplyAdd(c, b0, a20); a21 = Vector512.FusedMultiplyAdd(c, b1, a21);
                a22 = Vector512.FusedMultiplyAdd(c, b2, a22); a23 = Vector512.FusedMultiplyAdd(c, b3, a23);
                c = Vector512.Create(l3[j]);
                a30 = Vector512.FusedMultiplyAdd(c, b0, a30); a31 = Vector512.FusedMultiplyAdd(c, b1, a31);
                a32 = Vector512.FusedMultiplyAdd(c, b2, a32); a33 = Vector512.FusedMultiplyAdd(c, b3, a33);
            }
            a00.Store(y0 + o); a01.Store(y0 + o + 16); a02.Store(y0 + o + 32); a03.Store(y0 + o + 48);
            a10.Store(y1 + o); a11.Store(y1 + o + 16); a12.Store(y1 + o + 32); a13.Store(y1 + o + 48);
            a20.Store(y2 + o); a21.Store(y2 + o + 16); a22.Store(y2 + o + 32); a23.Store(y2 + o + 48);
            a30.Store(y3 + o); a31.Store(y3 + o + 16); a32.Store(y3 + o + 32); a33.Store(y3 + o + 48);
        }
        if (o < outputs)
            for (int i = 0; i < RowBlock; i++) AddTimesTransposedTail(y + (long)i * outputs, outputs, lowRows + i * padded, bt, rank, o);
    }

    /// <summary>One row of <see cref="AddTimesTransposed4"/>.</summary>
    private static void AddTimesTransposed1(float* y, int outputs, float* lowRow, float* bt, int rank)
    {
        int o = 0;
        for (; o <= outputs - 64; o += 64)
        {
            var a0 = Vector512.Load(y + o); var a1 = Vector512.Load(y + o + 16); var a2 = Vector512.Load(y + o + 32); var a3 = Vector512.Load(y + o + 48);
            float* w = bt + o;
            for (int j = 0; j < rank; j++, w += outputs)
            {
                var c = Vector512.Create(lowRow[j]);
                a0 = Vector512.FusedMultiplyAdd(c, Vector512.Load(w), a0); a1 = Vector512.FusedMultiplyAdd(c, Vector512.Load(w + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(c, Vector512.Load(w + 32), a2); a3 = Vector512.FusedMultiplyAdd(c, Vector512.Load(w + 48), a3);
            }
            a0.Store(y + o); a1.Store(y + o + 16); a2.Store(y + o + 32); a3.Store(y + o + 48);
        }
        AddTimesTransposedTail(y, outputs, lowRow, bt, rank, o);
    }

    // Columns [first, outputs) of one row: sixteen at a time, then one at a time.
    private static void AddTimesTransposedTail(float* y, int outputs, float* lowRow, float* bt, int rank, int first)
    {
        int o = first;
        for (; o <= outputs - 16; o += 16)
        {
            var sum = Vector512.Load(y + o);
            for (int j = 0; j < rank; j++) sum = Vector512.FusedMultiplyAdd(Vector512.Create(lowRow[j]), Vector512.Load(bt + (long)j * outputs + o), sum);
            sum.Store(y + o);
        }
        for (; o < outputs; o++)
        {
            float sum = y[o];
            for (int j = 0; j < rank; j++) sum = MathF.FusedMultiplyAdd(lowRow[j], bt[(long)j * outputs + o], sum);
            y[o] = sum;
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> given g = dL/dy [N, out]: dB += s·gᵀ·low, dlow = s·g·B, dA += dlowᵀ·drop(x),
    /// dx += mask·(dlow·A). g is only read. Any of dx, dA, dB may be null (not needed). Row chunks (one per thread) sum
    /// dA and dB into partial buffers, added in chunk order afterwards (deterministic for a given thread count).
    /// <paramref name="dlowOut"/> [N, r], when given, receives dlow (e.g. for dx's term inside the base GEMM).
    /// </summary>
    public static void Backward(float* dx, float* da, float* db, float* g, float* low, float* x, float* a, float* b,
        int rows, int inputs, int outputs, int rank, float scale, DropoutMask mask, float* dlowOut = null)
    {
        if (rows == 0 || (dx == null && da == null && db == null && dlowOut == null)) return;
        if (!Vector512.IsHardwareAccelerated)
        {
            BackwardScalar(dx, da, db, g, low, x, a, b, rows, inputs, outputs, rank, scale, mask, dlowOut);
            return;
        }
        int padded = PaddedRank(rank);
        int tiles = (rows + TileRows - 1) / TileRows;
        int chunks = Math.Clamp(tiles / MinTilesPerChunk, 1, Parallelism.ThreadCount);
        long sbLength = (long)outputs * padded, dbLength = db == null ? 0 : (long)outputs * padded, daLength = da == null ? 0 : (long)inputs * padded;
        long partialLength = (dbLength + daLength + 15) & ~15L;
        // scale·B [out, r'] zero-padded, then per chunk: dB partial [out, r'] (without the scale) and dAᵀ partial [in, r'].
        float* scratch = Aligned(ref backwardScratch, sbLength + chunks * partialLength);
        float* sb = scratch, partials = scratch + sbLength;
        new Span<float>(sb, (int)sbLength).Clear();
        for (int o = 0; o < outputs; o++)
            for (int j = 0; j < rank; j++) sb[(long)o * padded + j] = scale * b[(long)o * rank + j];
        new Span<float>(partials, checked((int)(chunks * partialLength))).Clear();
        Parallelism.For(chunks, 1, (c0, c1) =>
        {
            for (int chunk = c0; chunk < c1; chunk++)
            {
                float* dbPartial = db == null ? null : partials + chunk * partialLength;
                float* daPartial = da == null ? null : partials + chunk * partialLength + dbLength;
                BackwardTiles(dx, daPartial, dbPartial, dlowOut, g, low, x, a, sb, rows, inputs, outputs, rank, padded, mask,
                    (int)((long)tiles * chunk / chunks), (int)((long)tiles * (chunk + 1) / chunks));
            }
        });
        if (db != null)
            Parallelism.For(outputs, 64, (first, last) =>
            {
                for (int o = first; o < last; o++)
                    for (int j = 0; j < rank; j++)
                    {
                        float sum = 0;
                        for (int chunk = 0; chunk < chunks; chunk++) sum += partials[chunk * partialLength + (long)o * padded + j];
                        db[(long)o * rank + j] += scale * sum;
                    }
            });
        if (da != null)
            Parallelism.For(inputs, 64, (first, last) =>
            {
                for (int k = first; k < last; k++)
                    for (int j = 0; j < rank; j++)
                    {
                        float sum = 0;
                        for (int chunk = 0; chunk < chunks; chunk++) sum += partials[chunk * partialLength + dbLength + (long)k * padded + j];
                        da[(long)j * inputs + k] += sum;
                    }
            });
    }

    private const int MinTilesPerChunk = 4;

    private static void BackwardTiles(float* dx, float* daPartial, float* dbPartial, float* dlowOut, float* g, float* low, float* x, float* a, float* sb,
        int rows, int inputs, int outputs, int rank, int padded, DropoutMask mask, int firstTile, int lastTile)
    {
        float* lowStack = stackalloc float[TileRows * padded + 16], dlowStack = stackalloc float[TileRows * padded + 16];
        float* lowRows = Aligned(lowStack), dlowRows = Aligned(dlowStack);
        float* xBuffer = daPartial == null ? null : Aligned(ref tileRows, (long)TileRows * DepthChunk);
        float* gBuffer = Aligned(ref gradientRows, (long)TileRows * outputs);
        var keepAll = new DropoutMask(0f, 0);
        for (int tile = firstTile; tile < lastTile; tile++)
        {
            int n0 = tile * TileRows, count = Math.Min(TileRows, rows - n0);
            // The tile's low rows, r' lanes each; lanes past the rank and rows past the count are zero.
            new Span<float>(lowRows, TileRows * padded).Clear();
            for (int i = 0; i < count; i++) Buffer.MemoryCopy(low + (long)(n0 + i) * rank, lowRows + i * padded, rank * 4L, rank * 4L);
            float* gs = Rows(gBuffer, g, outputs, n0, count, 0, outputs, keepAll, out nint gStride);
            for (int lane = 0; lane < padded; lane += 16)
            {
                if (dbPartial != null) GradientTile(gs, gStride, sb + lane, lowRows + lane, padded, dbPartial + lane, padded, outputs, dlowRows + lane, padded);
                else RowsTimesThin(gs, gStride, sb + lane, padded, outputs, dlowRows + lane, padded, accumulate: false);
            }
            if (dlowOut != null)
                for (int i = 0; i < count; i++) Buffer.MemoryCopy(dlowRows + i * padded, dlowOut + (long)(n0 + i) * rank, rank * 4L, rank * 4L);
            if (daPartial != null)
            {
                for (int k0 = 0; k0 < inputs; k0 += DepthChunk)
                {
                    int depth = Math.Min(DepthChunk, inputs - k0);
                    float* xs = Rows(xBuffer, x, inputs, n0, count, k0, depth, mask, out nint stride);
                    for (int lane = 0; lane < padded; lane += 16)
                        OuterAccumulate(xs, stride, dlowRows + lane, padded, daPartial + (long)k0 * padded + lane, padded, depth);
                }
            }
            if (dx != null)
                for (int s = 0; s < count; s += 4) InputPass(dx, null, x, a, dlowRows + s * padded, n0 + s, Math.Min(4, count - s), inputs, rank, padded, mask);
        }
    }


    /// <summary>
    /// One read of the block's x rows, sixteen inputs at a time with their mask: dA'[j, k] += Σ_i dlow[i, j]·drop(x)[i, k]
    /// and dx[i, k] += mask[i, k]·Σ_j dlow[i, j]·A[j, k]. Rows past the count have dlow = 0 and are not written.
    /// </summary>
    private static void InputPass(float* dx, float* daPartial, float* x, float* a, float* dlow, int n0, int count, int inputs, int rank, int padded,
        DropoutMask mask)
    {
        float* x0 = x + (long)n0 * inputs;
        float* x1 = count > 1 ? x0 + inputs : x0, x2 = count > 2 ? x0 + 2L * inputs : x0, x3 = count > 3 ? x0 + 3L * inputs : x0;
        long m0 = (long)n0 * inputs, m1 = count > 1 ? m0 + inputs : m0, m2 = count > 2 ? m0 + 2L * inputs : m0, m3 = count > 3 ? m0 + 3L * inputs : m0;
        float* e0 = dlow, e1 = dlow + padded, e2 = dlow + 2 * padded, e3 = dlow + 3 * padded;
        int k = 0;
        for (; k <= inputs - 16; k += 16)
        {
            var k0 = mask.Vector(m0 + k); var k1 = mask.Vector(m1 + k); var k2 = mask.Vector(m2 + k); var k3 = mask.Vector(m3 + k);
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            if (daPartial != null)
            {
                var v0 = Vector512.Load(x0 + k) * k0; var v1 = Vector512.Load(x1 + k) * k1;
                var v2 = Vector512.Load(x2 + k) * k2; var v3 = Vector512.Load(x3 + k) * k3;
                float* p = daPartial + k, w = a + k;
                for (int j = 0; j < rank; j++, p += inputs, w += inputs)
                {
                    var c0 = Vector512.Create(e0[j]); var c1 = Vector512.Create(e1[j]); var c2 = Vector512.Create(e2[j]); var c3 = Vector512.Create(e3[j]);
                    var sum = Vector512.FusedMultiplyAdd(c0, v0, Vector512.Load(p));
                    sum = Vector512.FusedMultiplyAdd(c1, v1, sum);
                    sum = Vector512.FusedMultiplyAdd(c2, v2, sum);
                    Vector512.FusedMultiplyAdd(c3, v3, sum).Store(p);
                    if (dx != null)
                    {
                        var row = Vector512.Load(w);
                        t0 = Vector512.FusedMultiplyAdd(c0, row, t0); t1 = Vector512.FusedMultiplyAdd(c1, row, t1);
                        t2 = Vector512.FusedMultiplyAdd(c2, row, t2); t3 = Vector512.FusedMultiplyAdd(c3, row, t3);
                    }
                }
            }
            else
            {
                float* w = a + k;
                for (int j = 0; j < rank; j++, w += inputs)
                {
                    var row = Vector512.Load(w);
                    t0 = Vector512.FusedMultiplyAdd(Vector512.Create(e0[j]), row, t0); t1 = Vector512.FusedMultiplyAdd(Vector512.Create(e1[j]), row, t1);
                    t2 = Vector512.FusedMultiplyAdd(Vector512.Create(e2[j]), row, t2); t3 = Vector512.FusedMultiplyAdd(Vector512.Create(e3[j]), row, t3);
                }
            }
            if (dx != null)
            {
                float* d = dx + (long)n0 * inputs + k;
                Vector512.FusedMultiplyAdd(k0, t0, Vector512.Load(d)).Store(d);
                if (count > 1) Vector512.FusedMultiplyAdd(k1, t1, Vector512.Load(d + inputs)).Store(d + inputs);
                if (count > 2) Vector512.FusedMultiplyAdd(k2, t2, Vector512.Load(d + 2L * inputs)).Store(d + 2L * inputs);
                if (count > 3) Vector512.FusedMultiplyAdd(k3, t3, Vector512.Load(d + 3L * inputs)).Store(d + 3L * inputs);
            }
        }
        for (; k < inputs; k++)
            for (int i = 0; i < count; i++)
            {
                long index = (long)(n0 + i) * inputs + k;
                float m = mask.Value(index), xd = x[index] * m, t = 0;
                for (int j = 0; j < rank; j++)
                {
                    float e = dlow[i * padded + j];
                    if (daPartial != null) daPartial[(long)j * inputs + k] = MathF.FusedMultiplyAdd(e, xd, daPartial[(long)j * inputs + k]);
                    t = MathF.FusedMultiplyAdd(e, a[(long)j * inputs + k], t);
                }
                if (dx != null) dx[index] = MathF.FusedMultiplyAdd(m, t, dx[index]);
            }
    }

    /// <summary>The forward in plain loops (no SIMD): the reference the tests compare the kernel with, and the path without AVX-512.</summary>
    public static void ForwardScalar(float* y, float* low, float* x, float* a, float* b, int rows, int inputs, int outputs, int rank,
        float scale, DropoutMask mask)
    {
        for (int n = 0; n < rows; n++)
        {
            for (int j = 0; j < rank; j++)
            {
                float sum = 0;
                for (int k = 0; k < inputs; k++) sum += x[(long)n * inputs + k] * mask.Value((long)n * inputs + k) * a[(long)j * inputs + k];
                low[(long)n * rank + j] = sum;
            }
            if (y == null) continue;
            for (int o = 0; o < outputs; o++)
            {
                float sum = 0;
                for (int j = 0; j < rank; j++) sum += low[(long)n * rank + j] * b[(long)o * rank + j];
                y[(long)n * outputs + o] += scale * sum;
            }
        }
    }

    /// <summary>The backward in plain loops (see <see cref="ForwardScalar"/>).</summary>
    public static void BackwardScalar(float* dx, float* da, float* db, float* g, float* low, float* x, float* a, float* b,
        int rows, int inputs, int outputs, int rank, float scale, DropoutMask mask, float* dlowOut = null)
    {
        var dlow = new float[rank];
        for (int n = 0; n < rows; n++)
        {
            for (int j = 0; j < rank; j++)
            {
                float sum = 0;
                for (int o = 0; o < outputs; o++)
                {
                    float go = g[(long)n * outputs + o];
                    sum += go * b[(long)o * rank + j];
                    if (db != null) db[(long)o * rank + j] += scale * go * low[(long)n * rank + j];
                }
                dlow[j] = scale * sum;
                if (dlowOut != null) dlowOut[(long)n * rank + j] = dlow[j];
            }
            for (int k = 0; k < inputs; k++)
            {
                long index = (long)n * inputs + k;
                float m = mask.Value(index), t = 0;
                for (int j = 0; j < rank; j++)
                {
                    if (da != null) da[(long)j * inputs + k] += dlow[j] * m * x[index];
                    t += dlow[j] * a[(long)j * inputs + k];
                }
                if (dx != null) dx[index] += m * t;
            }
        }
    }
}
