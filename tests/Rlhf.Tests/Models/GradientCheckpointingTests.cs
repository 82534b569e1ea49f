// Gradient checkpointing per transformer block (ICausalLm.GradientCheckpointing) on both families: every parameter's
// gradient is the same bit for bit as without it, on a left- and right-padded batch, and the step's peak activation
// memory (the arena's peak floats, its segment arena included) drops.
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class GradientCheckpointingTests
{
    internal static readonly Gpt2Config Tiny = new()
    {
        VocabSize = 13, ContextLength = 16, EmbeddingSize = 16, LayerCount = 4, HeadCount = 2, BosTokenId = 12, EosTokenId = 12,
        InitializerRange = 0.3f,
    };

    // Row 0 left-padded, row 1 right-padded; labels on part of each row.
    internal static CausalLmBatch PaddedBatch() => new(2, 8,
        [7, 7, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 7, 7],
        [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        [false, false, false, true, true, true, true, true, false, false, true, true, true, true, false, false]);

    private static (float[] Gradients, float Loss, long PeakFloats) Step(string family, bool checkpointing)
    {
        using var model = CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(family, Tiny), seed: 4);
        model.GradientCheckpointing = checkpointing;
        using var step = new LanguageModelStep(model, new AdamWOptions());
        float loss = step.Accumulate(PaddedBatch());
        return (model.Parameters.Parameters.SelectMany(p => p.Gradient.ToArray()).ToArray(), loss, step.PeakActivationFloats);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void GradientsAreTheSameBitForBit(string family)
    {
        var plain = Step(family, checkpointing: false);
        var recomputed = Step(family, checkpointing: true);
        Assert.Equal(plain.Loss, recomputed.Loss);
        Assert.Contains(plain.Gradients, g => g != 0f);
        Assert.Equal(plain.Gradients, recomputed.Gradients);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void PeakActivationMemoryDrops(string family)
    {
        var plain = Step(family, checkpointing: false);
        var recomputed = Step(family, checkpointing: true);
        // Four blocks: without checkpointing all four blocks' activations are live at the end of the forward; with it,
        // four block outputs plus one block's intermediates (and the head's, the same in both).
        Assert.True(recomputed.PeakFloats < 0.7 * plain.PeakFloats,
            $"{family}: peak {recomputed.PeakFloats} floats with checkpointing vs {plain.PeakFloats} without");
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void AForwardWithoutTheTapeKeepsOnlyBlockOutputs(string family)
    {
        // Same loss as the training forward; the arena's peak stays near the block outputs plus one block.
        using var model = CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(family, Tiny), seed: 4);
        using var step = new LanguageModelStep(model, new AdamWOptions());
        float training = step.Accumulate(PaddedBatch());
        using var arena = new Rlhf.Tensors.Arena();
        var hidden = CausalLm.Hidden(model, new Rlhf.Tensors.Ops(arena, new Rlhf.Tensors.Tape { Enabled = false }), PaddedBatch(), trainable: false);
        Assert.Equal(training, step.Evaluate(PaddedBatch()));
        long blockOutput = hidden.Value.Length, layers = Tiny.LayerCount;
        // Without segments a forward would hold ≥ 6 block-sized tensors per layer (norms, projections, MLP); with them,
        // the outputs (one per layer, plus embeddings and mask) and one block's intermediates (≤ 12 block sizes here).
        Assert.True(arena.PeakUsed < (layers + 16) * blockOutput * 2, $"{family}: peak {arena.PeakUsed} floats, block output {blockOutput}");
    }
}
