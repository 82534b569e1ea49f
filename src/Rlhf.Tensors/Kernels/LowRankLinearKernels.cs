// A linear layer with a LoRA adapter as one op (Hu et al. 2021; PEFT's lora.Linear.forward: base(x) + lora_B(lora_A(
// dropout(x)))·scaling). The adapter's two products that touch the layer's big [N, out] and [N, in] tensors ride inside
// the base layer's GEMMs as a rank-r term on each output tile (LowRankTerm): forward y = x·Wᵀ + b + low·(s·B)ᵀ, backward
// dx += g·W + mask ⊙ (dlow·A). The thin products stay in LowRankKernels: low = drop(x)·Aᵀ (one read of x), and
// dlow = s·g·B with dB += s·gᵀ·low (one read of g), dA += dlowᵀ·drop(x) (one read of x and of the mask).
namespace Rlhf.Tensors.Kernels;

internal static unsafe class LowRankLinearKernels
{
    [ThreadStatic] private static float[]? factorScratch, dlowScratch;

    /// <summary>
    /// y [N, out] = x·W' + bias + s·(drop(x)·Aᵀ)·Bᵀ and low [N, r] = drop(x)·Aᵀ, with W' = Wᵀ for W [out, in]
    /// (<paramref name="weightOutIn"/>, torch.nn.Linear) or W for W [in, out] (Conv1D); A [r, in], B [out, r]; bias may be null.
    /// </summary>
    public static void Forward(float* y, float* low, float* x, float* w, float* bias, float* a, float* b,
        int rows, int inputs, int outputs, int rank, float scale, DropoutMask mask, bool weightOutIn)
    {
        if (rows == 0) return;
        LowRankKernels.Low(low, x, a, rows, inputs, rank, mask);
        float* scaledBt = KernelSupport.Scratch(ref factorScratch, (long)rank * outputs); // (s·B)ᵀ [r, out]
        for (int j = 0; j < rank; j++)
            for (int o = 0; o < outputs; o++) scaledBt[(long)j * outputs + o] = scale * b[(long)o * rank + j];
        float beta = 0f;
        if (bias != null)
        {
            long rowBytes = outputs * 4L;
            for (int n = 0; n < rows; n++) Buffer.MemoryCopy(bias, y + (long)n * outputs, rowBytes, rowBytes);
            beta = 1f;
        }
        Gemm.SgemmPlusTerm(false, weightOutIn, rows, outputs, inputs, 1f, x, inputs, w, weightOutIn ? inputs : outputs, beta, y, outputs,
            new LowRankTerm(low, rank, scaledBt, outputs, rank, new DropoutMask(0f, 0), 0));
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> given g = dL/dy [N, out]: dx += g·W'ᵀ + mask ⊙ (dlow·A) with dlow = s·g·B,
    /// dW += the base linear's weight gradient, dbias += Σₙ g, dA += dlowᵀ·drop(x), dB += s·gᵀ·low. Any gradient pointer
    /// may be null (not needed).
    /// </summary>
    public static void Backward(float* dx, float* dw, float* dbias, float* da, float* db, float* g, float* x, float* w, float* low,
        float* a, float* b, int rows, int inputs, int outputs, int rank, float scale, DropoutMask mask, bool weightOutIn)
    {
        if (rows == 0) return;
        float* dlow = dx == null ? null : KernelSupport.Scratch(ref dlowScratch, (long)rows * rank);
        LowRankKernels.Backward(null, da, db, g, low, x, a, b, rows, inputs, outputs, rank, scale, mask, dlow);
        if (dx != null)
            Gemm.SgemmPlusTerm(false, !weightOutIn, rows, inputs, outputs, 1f, g, outputs, w, weightOutIn ? inputs : outputs, 1f, dx, inputs,
                new LowRankTerm(dlow, rank, a, inputs, rank, mask, inputs));
        if (dw != null)
        {
            if (weightOutIn) Gemm.Sgemm(true, false, outputs, inputs, rows, 1f, g, outputs, x, inputs, 1f, dw, inputs);
            else Gemm.Sgemm(true, false, inputs, outputs, rows, 1f, x, inputs, g, outputs, 1f, dw, outputs);
        }
        if (dbias != null) LinearKernels.ColumnSums(dbias, g, rows, outputs);
    }
}
