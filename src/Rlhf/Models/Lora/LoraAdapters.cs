// LoRA adapters on a causal LM (Hu et al. 2021): each targeted linear layer y = W x + b gains (α/r)·B·A·dropout(x),
// A [r, in] initialised as PEFT (kaiming_uniform_ with a = √5, i.e. U(±1/√in)), B [out, r] zero, so training starts
// at the base model. The adapters live in the model's parameter set (named as PEFT's in-memory modules without the
// adapter name, e.g. model.layers.0.self_attn.q_proj.lora_A.weight); the base is frozen, heads stay trained.
using Rlhf.Tensors;

namespace Rlhf.Models.Lora;

/// <summary>LoRA adapters attached to one model; its families call <see cref="Apply"/> from their linear layers.</summary>
internal sealed class LoraAdapters
{
    internal const string AdapterAName = "lora_A.weight", AdapterBName = "lora_B.weight";

    private readonly Dictionary<string, (LoraTarget Target, Parameter A, Parameter B, int Index)> byWeight = new(StringComparer.Ordinal);
    private int disabled;

    /// <summary>The settings the adapters were made with (target modules resolved to the adapted modules' names).</summary>
    public LoraOptions Options { get; }

    /// <summary>The model the adapters are attached to.</summary>
    public ICausalLm Model { get; }

    /// <summary>
    /// Training forwards that drew dropout masks so far (saved with the adapters, so a resumed run draws the same
    /// masks). A mask's seed is (forward, adapted layer), so a block recomputed in backward (gradient checkpointing)
    /// draws the mask its forward drew.
    /// </summary>
    public long DropoutDraws { get; set; }

    /// <summary>False inside <see cref="Disable"/>: the model is then its base, bit for bit.</summary>
    public bool Enabled => disabled == 0;

    internal IReadOnlyList<LoraTarget> Targets { get; }

    private LoraAdapters(ICausalLm model, LoraOptions options, IReadOnlyList<LoraTarget> targets)
    {
        Model = model;
        Options = options;
        Targets = targets;
    }

    /// <summary>
    /// Adds adapters for the layers <see cref="LoraOptions.TargetModules"/> select, freezes the model's own parameters
    /// (heads on top, such as a reward model's score or PPO's value head, stay trained) and attaches them to the model.
    /// </summary>
    public static LoraAdapters Attach(ICausalLm model, LoraOptions options)
    {
        options.Validate();
        if (model.Adapters is not null) throw new InvalidOperationException("The model already has LoRA adapters.");
        var targets = LoraTargets.Resolve(model, options.TargetModules ?? LoraOptions.DefaultTargets);
        var modules = targets.Select(t => t.Module[(t.Module.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal).ToArray();
        var adapters = new LoraAdapters(model, options with { TargetModules = modules }, targets);
        var added = model.Parameters.Add(targets.SelectMany(t => new (string, int[], bool)[]
        {
            (t.Module + "." + AdapterAName, [options.Rank, t.In], true),
            (t.Module + "." + AdapterBName, [t.Out, options.Rank], true),
        }));
        var rng = new Rng(options.Seed);
        for (int i = 0; i < targets.Count; i++)
        {
            var (a, b) = (added[2 * i], added[2 * i + 1]);
            FillKaimingUniform(rng, a.Value.Span, targets[i].In);
            adapters.byWeight.Add(targets[i].WeightName, (targets[i], a, b, i));
        }
        var adapterNames = added.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        model.Parameters.Freeze(name => model.IsOwnParameter(name) && !adapterNames.Contains(name));
        model.Adapters = adapters;
        return adapters;
    }

    // torch.nn.init.kaiming_uniform_(a=√5) on [r, in]: gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√in.
    private static void FillKaimingUniform(Rng rng, Span<float> values, int fanIn)
    {
        double bound = 1.0 / Math.Sqrt(fanIn);
        for (int i = 0; i < values.Length; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
    }

    /// <summary>True for the adapters' own parameters (lora_A, lora_B).</summary>
    public static bool IsAdapterParameter(string name) =>
        name.EndsWith("." + AdapterAName, StringComparison.Ordinal) || name.EndsWith("." + AdapterBName, StringComparison.Ordinal);

    /// <summary>The adapter parameters, A then B for each adapted layer in the model's order.</summary>
    public IEnumerable<Parameter> AdapterParameters => Targets.SelectMany(t => new[] { byWeight[t.WeightName].A, byWeight[t.WeightName].B });

    /// <summary>The adapter (A, B) of a linear weight, when it has one.</summary>
    public bool TryGet(string weightName, out Parameter a, out Parameter b)
    {
        if (byWeight.TryGetValue(weightName, out var entry))
        {
            (a, b) = (entry.A, entry.B);
            return true;
        }
        (a, b) = (null!, null!);
        return false;
    }

    /// <summary>Called once at the start of each forward: a training forward with dropout takes the next masks.</summary>
    public void BeginForward(bool training)
    {
        if (training && disabled == 0 && Options.Dropout > 0) DropoutDraws++;
    }

    /// <summary>
    /// The linear layer's output <paramref name="baseOutput"/> plus (α/r)·B·A·dropout(<paramref name="input"/>) when the
    /// weight is adapted and the adapters are enabled; dropout only when <paramref name="training"/>. One fused op
    /// (<see cref="Ops.LowRankUpdate"/>): called right after the linear op that made <paramref name="baseOutput"/>, it adds
    /// the update into that output in place and keeps only A·dropout(x) and the mask's seed for backward.
    /// </summary>
    public Node Apply(Ops ops, Node input, string weightName, Node baseOutput, bool training)
    {
        if (disabled > 0 || !byWeight.TryGetValue(weightName, out var entry)) return baseOutput;
        float dropout = training ? Options.Dropout : 0f;
        return ops.LowRankUpdate(baseOutput, input, ops.Parameter(entry.A, training), ops.Parameter(entry.B, training), Options.Scaling,
            dropout, dropout > 0 ? DropoutSeed(DropoutDraws, entry.Index) : 0);
    }

    /// <summary>
    /// The linear layer <paramref name="weightName"/> (fp32 <paramref name="weight"/>, [out, in] when
    /// <paramref name="weightOutIn"/>, else GPT-2's Conv1D [in, out]) with its adapter when it has one and the adapters
    /// are enabled: one op (<see cref="Ops.LowRankLinear"/>) whose GEMMs carry the adapter's products. The same values,
    /// dropout masks included, as the base linear followed by <see cref="Apply"/>.
    /// </summary>
    public Node Linear(Ops ops, Node input, string weightName, Node weight, Node? bias, bool training, bool weightOutIn = true)
    {
        if (disabled > 0 || !byWeight.TryGetValue(weightName, out var entry))
            return weightOutIn ? ops.LinearOutIn(input, weight, bias) : ops.Linear(input, weight, bias);
        float dropout = training ? Options.Dropout : 0f;
        return ops.LowRankLinear(input, weight, bias, ops.Parameter(entry.A, training), ops.Parameter(entry.B, training), Options.Scaling,
            dropout, dropout > 0 ? DropoutSeed(DropoutDraws, entry.Index) : 0, weightOutIn);
    }

    private ulong DropoutSeed(long forward, int layer) =>
        Options.Seed * 0x9E3779B97F4A7C15UL ^ (ulong)forward * 0xBF58476D1CE4E5B9UL ^ ((ulong)layer + 1) * 0x94D049BB133111EBUL;

    /// <summary>
    /// The model without its adapters, as a model of its own sharing the weights (a DPO/PPO/GRPO reference needing no
    /// second copy); disposing it does not dispose the model.
    /// </summary>
    public ICausalLm BaseModel => baseView ??= new LoraBaseView(this);
    private LoraBaseView? baseView;

    /// <summary>Removes the adapters from the model (their parameters stay in the set, unused) and unfreezes the base.</summary>
    public void Detach()
    {
        if (!ReferenceEquals(Model.Adapters, this)) return;
        Model.Adapters = null;
        Model.Parameters.Freeze(name => IsAdapterParameter(name));
    }

    /// <summary>Switches the adapters off until disposed (nestable): the model computes exactly its base.</summary>
    public IDisposable Disable()
    {
        disabled++;
        return new Reenable(this);
    }

    private sealed class Reenable(LoraAdapters adapters) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            adapters.disabled--;
        }
    }
}
