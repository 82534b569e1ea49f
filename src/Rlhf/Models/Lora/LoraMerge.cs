// Merging LoRA into the base weights (PEFT's merge_and_unload): W ← W + (α/r)·B·A, transposed for GPT-2's Conv1D
// [in, out] weights (PEFT's fan_in_fan_out).
using Rlhf.Tensors;

namespace Rlhf.Models.Lora;

/// <summary>Folds attached LoRA adapters into the model's own weights.</summary>
internal static class LoraMerge
{
    /// <summary>Adds (α/r)·B·A to every adapted weight, then detaches the adapters: the model alone computes what it computed with them.</summary>
    public static void MergeAndUnload(LoraAdapters adapters)
    {
        if (adapters.Model.FrozenBaseWeights is not null)
            throw new InvalidOperationException("This model's base is held only in bf16 (--base-dtype bfloat16): merge its saved adapter folder with `rlhf merge`, which loads the fp32 base.");
        float scaling = adapters.Options.Scaling;
        int rank = adapters.Options.Rank;
        foreach (var target in adapters.Targets)
        {
            adapters.TryGet(target.WeightName, out var a, out var b);
            AddProduct(adapters.Model.Parameters[target.WeightName].Value.Span, b.Value.Span, a.Value.Span, target, rank, scaling);
        }
        adapters.Detach();
    }

    // delta[o, i] = s · Σ_k B[o, k] · A[k, i]; the weight is [out, in] (nn.Linear) or [in, out] (Conv1D).
    private static void AddProduct(Span<float> weight, ReadOnlySpan<float> b, ReadOnlySpan<float> a, LoraTarget target, int rank, float scaling)
    {
        int inputs = target.In, outputs = target.Out;
        var row = new double[inputs];
        for (int o = 0; o < outputs; o++)
        {
            Array.Clear(row);
            for (int k = 0; k < rank; k++)
            {
                double coefficient = b[o * rank + k];
                if (coefficient == 0) continue;
                var aRow = a.Slice(k * inputs, inputs);
                for (int i = 0; i < inputs; i++) row[i] += coefficient * aRow[i];
            }
            if (target.Layout == MatrixLayout.OutputMajor)
                for (int i = 0; i < inputs; i++) weight[o * inputs + i] += (float)(scaling * row[i]);
            else
                for (int i = 0; i < inputs; i++) weight[i * outputs + o] += (float)(scaling * row[i]);
        }
    }
}
