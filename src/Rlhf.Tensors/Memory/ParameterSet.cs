// Named trainable parameters packed in one slab, with a mirror slab for their gradients.
namespace Rlhf.Tensors;

/// <summary>One trainable tensor, its gradient, and whether AdamW decays it.</summary>
internal sealed record Parameter(string Name, Tensor Value, Tensor Gradient, bool Decay);

/// <summary>
/// Parameters live contiguously in <see cref="Values"/> and their gradients in <see cref="Gradients"/>, so
/// zeroing, clipping and optimizer steps are single passes over one slab.
/// </summary>
internal sealed class ParameterSet : IDisposable
{
    private readonly List<Parameter> parameters = [];
    private readonly Dictionary<string, Parameter> byName = new(StringComparer.Ordinal);

    public NativeSlab Values { get; }
    public NativeSlab Gradients { get; }

    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>Floats in the slab (parameters plus alignment padding).</summary>
    public long ElementCount => Values.Length;

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => parameters.Sum(p => p.Value.Length);

    /// <param name="layout">Name, shape and decay flag of every parameter, in storage order.</param>
    public ParameterSet(IEnumerable<(string Name, int[] Shape, bool Decay)> layout)
    {
        var entries = layout.ToList();
        long total = 0;
        foreach (var (_, shape, _) in entries) total += Padded(Tensor.ElementCount(shape));
        Values = new NativeSlab(total);
        Gradients = new NativeSlab(total);
        long offset = 0;
        foreach (var (name, shape, decay) in entries)
        {
            var parameter = new Parameter(name, new Tensor(Values, offset, shape), new Tensor(Gradients, offset, shape), decay);
            if (!byName.TryAdd(name, parameter)) throw new ArgumentException($"Duplicate parameter name '{name}'.");
            parameters.Add(parameter);
            offset += Padded(Tensor.ElementCount(shape));
        }
    }

    private static long Padded(long length) => (length + 15) & ~15L;

    public Parameter this[string name] =>
        byName.TryGetValue(name, out var parameter) ? parameter : throw new KeyNotFoundException($"No parameter named '{name}'.");

    public bool TryGet(string name, out Parameter parameter) => byName.TryGetValue(name, out parameter!);

    public unsafe void ZeroGradients() => new Span<float>(Gradients.Pointer, checked((int)Gradients.Length)).Clear();

    public void Dispose()
    {
        Values.Dispose();
        Gradients.Dispose();
    }
}
