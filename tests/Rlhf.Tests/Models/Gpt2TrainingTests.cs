// Whole-model gradient check by finite differences, and overfitting one batch.
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Rlhf.Training;
using Xunit;

namespace Rlhf.Tests.Models;

public class Gpt2TrainingTests
{
    private static readonly Gpt2Config Tiny = new()
    {
        VocabSize = 13, ContextLength = 8, EmbeddingSize = 8, LayerCount = 2, HeadCount = 2, BosTokenId = 12, EosTokenId = 12,
    };

    private static CausalLmBatch LeftPaddedBatch() => new(2, 6,
        [3, 1, 4, 1, 5, 9, 0, 0, 2, 6, 5, 3],
        [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1],
        [false, false, true, true, true, true, false, false, false, true, true, true]);

    [Fact]
    public void EveryParameterGradientMatchesFiniteDifferences()
    {
        using var model = Gpt2Model.CreateRandom(Tiny with { InitializerRange = 0.5f }, seed: 3);
        var batch = LeftPaddedBatch();
        using var step = new LanguageModelStep(model, new AdamWOptions());
        step.Accumulate(batch);
        double Loss() => step.Evaluate(batch);
        foreach (var parameter in model.Parameters.Parameters)
        {
            // LayerNorm and biases start at 1 / 0 by default; perturb them so their gradients are generic.
            FiniteDifference.Check(parameter.Name, parameter.Value.Span, parameter.Gradient.ToArray(), Loss,
                step: 1e-2, absTol: 5e-4, relTol: 2e-2, maxChecks: 24);
        }
    }

    [Fact]
    public void PaddingDoesNotChangeTheLossOfRealTokens()
    {
        using var model = Gpt2Model.CreateRandom(Tiny, seed: 5);
        using var step = new LanguageModelStep(model, new AdamWOptions());
        var alone = new CausalLmBatch(1, 4, [2, 6, 5, 3], null, [false, true, true, true]);
        var padded = new CausalLmBatch(1, 6, [7, 7, 2, 6, 5, 3], [0, 0, 1, 1, 1, 1], [false, false, false, true, true, true]);
        var rightPadded = new CausalLmBatch(1, 6, [2, 6, 5, 3, 7, 7], [1, 1, 1, 1, 0, 0], [false, true, true, true, false, false]);
        float expected = step.Evaluate(alone);
        Assert.Equal(expected, step.Evaluate(padded), 1e-5f);
        Assert.Equal(expected, step.Evaluate(rightPadded), 1e-5f);
    }

    [Fact]
    public void OverfittingOneBatchDrivesTheLossTowardZero()
    {
        using var model = Gpt2Model.CreateRandom(Tiny with { EmbeddingSize = 32, HeadCount = 4 }, seed: 11);
        using var step = new LanguageModelStep(model, new AdamWOptions());
        var batch = LeftPaddedBatch();
        float first = step.Accumulate(batch);
        step.Update(1e-2f, 1.0);
        float last = first;
        for (int s = 0; s < 150; s++)
        {
            last = step.Accumulate(batch);
            step.Update(1e-2f, 1.0);
        }
        Assert.True(first > 2.0, $"initial loss {first} should be near ln(13) ≈ 2.56");
        Assert.True(last < 0.05, $"loss after 150 steps on one batch is {last}, expected < 0.05");
    }

    [Fact]
    public void TrainingIsDeterministicForASeed()
    {
        float[] Run()
        {
            using var model = Gpt2Model.CreateRandom(Tiny, seed: 21);
            using var step = new LanguageModelStep(model, new AdamWOptions(WeightDecay: 0.1f));
            for (int s = 0; s < 3; s++)
            {
                step.Accumulate(LeftPaddedBatch());
                step.Update(1e-2f, 1.0);
            }
            return model.Parameters.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        Assert.Equal(Run(), Run());
    }
}
