// LoRA with dropout on both families through the fused op: gradient checkpointing on and off give the same adapter
// gradients bit for bit (the recomputed block regenerates the forward's masks from (draws, layer)), a training
// forward with dropout differs from one without, and the next forward draws new masks.
using Rlhf.Models;
using Rlhf.Models.Lora;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class LoraDropoutTests
{
    // The tiny model and the left- and right-padded batch of the checkpointing tests.
    private static readonly Gpt2Config Tiny = GradientCheckpointingTests.Tiny;

    private static CausalLmBatch Batch() => GradientCheckpointingTests.PaddedBatch();

    private static (float[] Gradients, float Loss) Step(string family, bool checkpointing, float dropout, int steps = 1)
    {
        using var model = CausalLmRegistry.CreateRandom(ModelFamilies.Tiny(family, Tiny), seed: 4);
        var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 3, Alpha: 6, Dropout: dropout, TargetModules: LoraOptions.ParseTargets(LoraOptions.AllLinear), Seed: 5));
        var rng = new Rng(6);
        foreach (var p in adapters.AdapterParameters) rng.FillNormal(p.Value.Span, 0, 0.3); // B ≠ 0, so every adapter has a gradient
        model.GradientCheckpointing = checkpointing;
        using var step = new Rlhf.Training.LanguageModelStep(model, new AdamWOptions());
        float loss = 0;
        for (int s = 0; s < steps; s++)
        {
            model.Parameters.ZeroGradients();
            loss = step.Accumulate(Batch());
        }
        return (adapters.AdapterParameters.SelectMany(p => p.Gradient.ToArray()).ToArray(), loss);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void CheckpointingGivesTheSameGradientsWithDropout(string family)
    {
        var plain = Step(family, checkpointing: false, dropout: 0.3f);
        var recomputed = Step(family, checkpointing: true, dropout: 0.3f);
        Assert.Equal(plain.Loss, recomputed.Loss);
        Assert.Contains(plain.Gradients, g => g != 0f);
        Assert.Equal(plain.Gradients, recomputed.Gradients);
    }

    [Theory]
    [MemberData(nameof(ModelFamilies.Both), MemberType = typeof(ModelFamilies))]
    public void DropoutChangesTheStepAndEachForwardDrawsNewMasks(string family)
    {
        var without = Step(family, checkpointing: false, dropout: 0f);
        var with = Step(family, checkpointing: false, dropout: 0.3f);
        Assert.NotEqual(without.Loss, with.Loss);
        var second = Step(family, checkpointing: false, dropout: 0.3f, steps: 2); // same weights, the second forward's masks
        Assert.NotEqual(with.Loss, second.Loss);
        var again = Step(family, checkpointing: false, dropout: 0.3f); // same draws, same masks
        Assert.Equal(with.Loss, again.Loss);
        Assert.Equal(with.Gradients, again.Gradients);
    }
}
