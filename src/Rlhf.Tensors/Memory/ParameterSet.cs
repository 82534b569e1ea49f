// Named parameters packed in slabs, with one slab for the gradients of those that are trained (frozen ones have none).
namespace Rlhf.Tensors;

/// <summary>One named tensor, its gradient (when trained), and whether AdamW decays it.</summary>
internal sealed class Parameter
{
    private readonly ParameterSet owner;
    internal Tensor? GradientTensor;

    internal Parameter(ParameterSet owner, string name, Tensor value, bool decay)
    {
        this.owner = owner;
        Name = name;
        Value = value;
        Decay = decay;
    }

    public string Name { get; }
    public Tensor Value { get; }
    public bool Decay { get; }

    /// <summary>A frozen parameter takes no gradient and no optimizer state (e.g. a LoRA base weight).</summary>
    public bool Frozen { get; internal set; }

    /// <summary>The gradient, in the set's gradient slab (allocated on first use); a frozen parameter has none.</summary>
    public Tensor Gradient => GradientTensor ?? owner.GradientOf(this);

    /// <summary>Offset of the gradient in <see cref="ParameterSet.Gradients"/> (and of the optimizer moments).</summary>
    public long GradientOffset { get; internal set; } = -1;
}

/// <summary>
/// Parameters live contiguously in <see cref="Values"/> (plus one slab per <see cref="Add"/>) and the gradients of
/// the trained ones in <see cref="Gradients"/>, so zeroing, clipping and optimizer steps are single passes over one
/// slab. The gradient slab is allocated on first use, for the parameters not frozen at that time.
/// </summary>
internal sealed class ParameterSet : IDisposable
{
    private readonly List<Parameter> parameters = [];
    private readonly Dictionary<string, Parameter> byName = new(StringComparer.Ordinal);
    private readonly List<NativeSlab> extraSlabs = [];
    private NativeSlab? gradients;
    private Parameter[] trainable = [];

    /// <summary>The slab of the parameters given to the constructor.</summary>
    public NativeSlab Values { get; }

    /// <summary>The gradients of the trained parameters, laid out as <see cref="Parameter.GradientOffset"/> says.</summary>
    public NativeSlab Gradients => gradients ??= AllocateGradients();

    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>The parameters that are not frozen, in storage order.</summary>
    public IReadOnlyList<Parameter> Trainable
    {
        get
        {
            _ = Gradients;
            return trainable;
        }
    }

    /// <summary>Floats in the value slabs (parameters plus alignment padding).</summary>
    public long ElementCount => Values.Length + extraSlabs.Sum(s => s.Length);

    /// <summary>Floats in the gradient slab (trained parameters plus alignment padding).</summary>
    public long TrainableElementCount => Gradients.Length;

    /// <summary>Number of scalars.</summary>
    public long ParameterCount => parameters.Sum(p => p.Value.Length);

    /// <summary>Number of scalars that are trained.</summary>
    public long TrainableParameterCount => parameters.Where(p => !p.Frozen).Sum(p => p.Value.Length);

    /// <param name="layout">Name, shape and decay flag of every parameter, in storage order.</param>
    public ParameterSet(IEnumerable<(string Name, int[] Shape, bool Decay)> layout) => Values = Place(layout.ToList());

    /// <summary>
    /// Adds parameters (zeroed) in a slab of their own, e.g. LoRA adapters beside a loaded model. Gradients
    /// allocated before are dropped (they are reallocated, zeroed, for the new set of trained parameters).
    /// </summary>
    public IReadOnlyList<Parameter> Add(IEnumerable<(string Name, int[] Shape, bool Decay)> layout)
    {
        int first = parameters.Count;
        extraSlabs.Add(Place(layout.ToList()));
        ResetGradients();
        return parameters.Skip(first).ToArray();
    }

    /// <summary>Freezes the parameters <paramref name="frozen"/> selects and unfreezes the others (gradients are reallocated, zeroed).</summary>
    public void Freeze(Func<string, bool> frozen)
    {
        foreach (var parameter in parameters) parameter.Frozen = frozen(parameter.Name);
        ResetGradients();
    }

    private NativeSlab Place(List<(string Name, int[] Shape, bool Decay)> entries)
    {
        long total = 0;
        foreach (var (_, shape, _) in entries) total += Padded(Tensor.ElementCount(shape));
        var slab = new NativeSlab(total);
        long offset = 0;
        foreach (var (name, shape, decay) in entries)
        {
            var parameter = new Parameter(this, name, new Tensor(slab, offset, shape), decay);
            if (!byName.TryAdd(name, parameter))
            {
                slab.Dispose();
                throw new ArgumentException($"Duplicate parameter name '{name}'.");
            }
            parameters.Add(parameter);
            offset += Padded(Tensor.ElementCount(shape));
        }
        return slab;
    }

    private void ResetGradients()
    {
        gradients?.Dispose();
        gradients = null;
        foreach (var parameter in parameters)
        {
            parameter.GradientTensor = null;
            parameter.GradientOffset = -1;
        }
    }

    private NativeSlab AllocateGradients()
    {
        trainable = parameters.Where(p => !p.Frozen).ToArray();
        var slab = new NativeSlab(trainable.Sum(p => Padded(p.Value.Length)));
        long offset = 0;
        foreach (var parameter in trainable)
        {
            parameter.GradientTensor = new Tensor(slab, offset, parameter.Value.Shape);
            parameter.GradientOffset = offset;
            offset += Padded(parameter.Value.Length);
        }
        return slab;
    }

    internal Tensor GradientOf(Parameter parameter)
    {
        if (parameter.Frozen) throw new InvalidOperationException($"Parameter '{parameter.Name}' is frozen: it has no gradient.");
        _ = Gradients;
        return parameter.GradientTensor!;
    }

    private static long Padded(long length) => (length + 15) & ~15L;

    public Parameter this[string name] =>
        byName.TryGetValue(name, out var parameter) ? parameter : throw new KeyNotFoundException($"No parameter named '{name}'.");

    public bool TryGet(string name, out Parameter parameter) => byName.TryGetValue(name, out parameter!);

    public unsafe void ZeroGradients() => new Span<float>(Gradients.Pointer, checked((int)Gradients.Length)).Clear();

    public void Dispose()
    {
        Values.Dispose();
        foreach (var slab in extraSlabs) slab.Dispose();
        gradients?.Dispose();
    }
}
