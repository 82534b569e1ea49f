// AdamW over a ParameterSet: decoupled weight decay on weights and embeddings, none on biases and norms.
namespace Rlhf.Tensors;

internal sealed record AdamWOptions(float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0.0f);

internal sealed unsafe class AdamW : IDisposable
{
    private readonly ParameterSet parameters;

    public AdamWOptions Options { get; }

    /// <summary>First and second moments of the trained parameters, laid out like <see cref="ParameterSet.Gradients"/>.</summary>
    public NativeSlab FirstMoment { get; }
    public NativeSlab SecondMoment { get; }

    /// <summary>Updates taken so far (the t of the bias corrections).</summary>
    public int StepCount { get; set; }

    public AdamW(ParameterSet parameters, AdamWOptions? options = null)
    {
        this.parameters = parameters;
        Options = options ?? new AdamWOptions();
        FirstMoment = new NativeSlab(parameters.TrainableElementCount);
        SecondMoment = new NativeSlab(parameters.TrainableElementCount);
    }

    /// <summary>
    /// Applies one update with the gradients now in the parameter set, each multiplied by <paramref name="gradientScale"/>
    /// (see <see cref="GradientClipping.ClipCoefficient"/>); with <paramref name="zeroGradients"/> the gradients are
    /// zeroed in the same pass.
    /// </summary>
    public void Step(float learningRate, float gradientScale = 1f, bool zeroGradients = false)
    {
        StepCount++;
        foreach (var parameter in parameters.Trainable)
        {
            long offset = parameter.GradientOffset;
            Kernels.AdamWKernels.Step(parameter.Value.Pointer, parameter.Gradient.Pointer,
                FirstMoment.Pointer + offset, SecondMoment.Pointer + offset, parameter.Value.Length,
                learningRate, Options.Beta1, Options.Beta2, Options.Epsilon,
                parameter.Decay ? Options.WeightDecay : 0f, StepCount, gradientScale, zeroGradients);
        }
    }

    public void Dispose()
    {
        FirstMoment.Dispose();
        SecondMoment.Dispose();
    }
}
