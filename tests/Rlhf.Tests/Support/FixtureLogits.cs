// The padded batch of a reference fixture's fixture.json and a model's full logits on it, shared by the reference tests.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Tests.Support;

internal static unsafe class FixtureLogits
{
    /// <summary>input_ids, attention_mask and labels (−100 = no target) of fixture.json as a batch.</summary>
    public static CausalLmBatch Batch(JsonElement root)
    {
        int[][] Rows(string name) => root.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        var ids = Rows("input_ids");
        var mask = Rows("attention_mask");
        var labels = Rows("labels");
        return new CausalLmBatch(ids.Length, ids[0].Length, ids.SelectMany(r => r).ToArray(),
            mask.SelectMany(r => r).Select(x => (float)x).ToArray(), labels.SelectMany(r => r).Select(x => x != -100).ToArray());
    }

    /// <summary>Logits [B·T, V] = hidden · headᵀ (no gradient).</summary>
    public static float[] Compute(ICausalLm model, CausalLmBatch batch)
    {
        using var arena = new Arena();
        var ops = new Ops(arena, new Tape { Enabled = false });
        var hidden = CausalLm.Hidden(model, ops, batch, trainable: false);
        var head = model.LmHeadWeight(ops, trainable: false);
        int rows = batch.TokenIds.Length, channels = model.Config.HiddenSize, vocab = model.Config.VocabSize;
        var logits = new float[rows * vocab];
        fixed (float* l = logits)
            Gemm.Sgemm(false, true, rows, vocab, channels, 1f, hidden.Value.Pointer, channels, head.Value.Pointer, channels, 0f, l, vocab);
        return logits;
    }
}
