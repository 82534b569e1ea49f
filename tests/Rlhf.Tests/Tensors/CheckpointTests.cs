// Ops.Checkpoint: a recomputed segment gives the same gradients, bit for bit, as the plain tape (dropout masks replayed
// from the generator's saved state), keeps only segment outputs between forward and backward (peak arena floats drop),
// and leaves the generator where the forward left it.
using Rlhf.Tensors;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed class CheckpointTests
{
    private const int Rows = 6, Width = 12, Layers = 4;

    // A residual stack: x ← x + W2·gelu(W1·dropout(layernorm(x))) per layer, then a scalar loss Σ w·x (via LinearLogProbs).
    private static (float[] Gradients, float[] InputGradient, long PeakFloats, ulong[] RngAfter) Run(bool checkpoint, float dropout)
    {
        var tensors = new TestTensors(7);
        var layout = Enumerable.Range(0, Layers).SelectMany(l => new (string, int[], bool)[]
        {
            ($"{l}.ln.w", [Width], false), ($"{l}.ln.b", [Width], false), ($"{l}.up", [Width, 2 * Width], true),
            ($"{l}.up.b", [2 * Width], false), ($"{l}.down", [2 * Width, Width], true), ($"{l}.down.b", [Width], false),
        }).Append(("head", [5, Width], true));
        using var parameters = new ParameterSet(layout);
        var init = new Rng(3);
        foreach (var p in parameters.Parameters) init.FillNormal(p.Value.Span, p.Name.EndsWith(".w") ? 1 : 0, 0.5);
        var inputValue = tensors.Random(Rows, Width);
        using var arena = new Arena(64);
        var tape = new Tape();
        var ops = new Ops(arena, tape);
        var random = new Rng(11);

        Node Layer(Ops o, Node x, int l)
        {
            var h = o.LayerNorm(x, o.Parameter(parameters[$"{l}.ln.w"]), o.Parameter(parameters[$"{l}.ln.b"]), 1e-5f);
            h = o.Dropout(h, dropout, random);
            var up = o.Gelu(o.Linear(h, o.Parameter(parameters[$"{l}.up"]), o.Parameter(parameters[$"{l}.up.b"])));
            return o.Add(x, o.Linear(up, o.Parameter(parameters[$"{l}.down"]), o.Parameter(parameters[$"{l}.down.b"])));
        }

        var input = new Node(inputValue, true, arena);
        var x = input;
        for (int l = 0; l < Layers; l++)
        {
            int layer = l;
            x = checkpoint ? ops.Checkpoint((o, inputs) => Layer(o, inputs[0], layer), [x], random) : Layer(ops, x, layer);
        }
        var logProbs = ops.LinearLogProbs(x, ops.Parameter(parameters["head"]), [0, 1, 2, 3, 4, -1]);
        var rngAfter = random.GetState();
        for (int i = 0; i < Rows; i++) logProbs.Gradient.Span[i] = 1f + i;
        tape.Backward();
        return (parameters.Parameters.SelectMany(p => p.Gradient.ToArray()).ToArray(), input.Gradient.ToArray(), arena.PeakUsed, rngAfter.Concat(random.GetState()).ToArray());
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.3f)]
    public void GradientsAreTheSameBitForBit(float dropout)
    {
        var plain = Run(checkpoint: false, dropout);
        var recomputed = Run(checkpoint: true, dropout);
        Assert.Equal(plain.Gradients, recomputed.Gradients);
        Assert.Equal(plain.InputGradient, recomputed.InputGradient);
        Assert.Contains(plain.Gradients, g => g != 0f);
        // The generator ends where the forward left it (the recomputation restores it), as without checkpointing.
        Assert.Equal(plain.RngAfter, recomputed.RngAfter);
    }

    [Fact]
    public void PeakArenaMemoryDrops()
    {
        var plain = Run(checkpoint: false, 0.3f);
        var recomputed = Run(checkpoint: true, 0.3f);
        // Plain: every layer's activations (~7 tensors of Rows·2·Width) live until backward; checkpointed: one output per
        // layer plus one layer's intermediates at a time.
        Assert.True(recomputed.PeakFloats < 0.6 * plain.PeakFloats, $"peak {recomputed.PeakFloats} floats with checkpointing vs {plain.PeakFloats} without");
    }

    [Fact]
    public void DropoutBackwardMatchesFiniteDifferencesAndDropsAboutP()
    {
        // With the generator's state reset before each evaluation the mask is fixed, so the loss is linear in x.
        var tensors = new TestTensors(5);
        var x = tensors.Random(40, 25);
        var weights = FiniteDifference.RandomArray(tensors.Rng, (int)x.Length);
        var state = new Rng(9).GetState();
        var random = new Rng(0);
        using var arena = new Arena(64);
        double Loss()
        {
            arena.Reset();
            random.SetState(state);
            var ops = new Ops(arena, new Tape { Enabled = false });
            return FiniteDifference.Dot(ops.Dropout(ops.Constant(x), 0.25f, random).Value.Span, weights);
        }
        arena.Reset();
        random.SetState(state);
        var tape = new Tape();
        var input = new Node(x, true, arena);
        var output = new Ops(arena, tape).Dropout(input, 0.25f, random);
        int dropped = output.Value.ToArray().Count(v => v == 0f);
        Assert.InRange(dropped, 150, 350); // 1000 values, p = 0.25: 250 expected, ±100 is > 5 standard deviations (13.7)
        weights.CopyTo(output.Gradient.Span);
        tape.Backward();
        var gradient = input.Gradient.ToArray();
        FiniteDifference.Check("dropout input", x.Span, gradient, Loss, step: 1e-2, absTol: 1e-4, relTol: 1e-4, maxChecks: 100);
        Assert.Equal(dropped, gradient.Count(g => g == 0f));
    }

    [Fact]
    public void WithTheTapeOffTheSegmentSimplyRuns()
    {
        using var arena = new Arena(64);
        var ops = new Ops(arena, new Tape { Enabled = false });
        var x = ops.Constant(Tensor.FromArray([1f, 2f], 2));
        var y = ops.Checkpoint((o, inputs) => o.Scale(inputs[0], 3f), [x]);
        Assert.Equal([3f, 6f], y.Value.ToArray());
    }
}
