// One optimizer step of causal-LM training: forward, backward, clip, AdamW — the unit benchmarks time.
using Rlhf.Models;
using Rlhf.Tensors;

namespace Rlhf.Training;

/// <summary>Owns the optimizer state and the per-step arena for training a causal LM on next-token loss.</summary>
internal sealed class LanguageModelStep : IDisposable
{
    private readonly Arena arena = new();
    private readonly Tape tape = new();

    public ICausalLm Model { get; }
    public AdamW Optimizer { get; }

    /// <summary>Times every op of the steps run while set (benchmarks).</summary>
    internal TapeProfile? Profile
    {
        get => tape.Profile;
        set => tape.Profile = value;
    }

    /// <summary>Largest arena size seen (floats), i.e. the activation memory of one step.</summary>
    public long PeakActivationFloats { get; private set; }

    public LanguageModelStep(ICausalLm model, AdamWOptions options)
    {
        Model = model;
        Optimizer = new AdamW(model.Parameters, options);
    }

    /// <summary>Forward + backward of one micro-batch, adding gradients (scaled by <paramref name="scale"/>); returns the unscaled loss.</summary>
    public float Accumulate(CausalLmBatch batch, float scale = 1f)
    {
        arena.Reset();
        var ops = new Ops(arena, tape);
        var loss = CausalLm.Loss(Model, ops, batch, scale);
        float value = loss.Value.Span[0] / scale;
        tape.Backward();
        PeakActivationFloats = Math.Max(PeakActivationFloats, arena.Used);
        return value;
    }

    /// <summary>Clips the accumulated gradients, applies AdamW and zeroes the gradients; returns the pre-clip norm.</summary>
    public double Update(float learningRate, double maxGradNorm)
    {
        double norm = GradientClipping.GlobalNorm(Model.Parameters);
        Optimizer.Step(learningRate, GradientClipping.ClipCoefficient(norm, maxGradNorm), zeroGradients: true);
        return norm;
    }

    /// <summary>Loss without gradients (tape off).</summary>
    public float Evaluate(CausalLmBatch batch)
    {
        arena.Reset();
        tape.Enabled = false;
        try
        {
            return CausalLm.Loss(Model, new Ops(arena, tape), batch, trainable: false).Value.Span[0];
        }
        finally
        {
            tape.Enabled = true;
        }
    }

    public void Dispose()
    {
        arena.Dispose();
        Optimizer.Dispose();
    }
}
