// Weights copied in memory between models of one configuration, by parameter name: a PPO policy with a value head
// started from a loaded model, a frozen reference of its starting weights, and the trained weights handed back.
namespace Rlhf.Models;

internal static class WeightCopy
{
    /// <summary>Copies every parameter of <paramref name="target"/> from the one of the same name in <paramref name="source"/>.</summary>
    public static void Into(ICausalLm source, ICausalLm target)
    {
        foreach (var parameter in target.Parameters.Parameters)
        {
            if (!source.Parameters.TryGet(parameter.Name, out var from))
                throw new ArgumentException($"The source model has no parameter '{parameter.Name}'.", nameof(source));
            if (!from.Value.Shape.SequenceEqual(parameter.Value.Shape))
                throw new ArgumentException($"'{parameter.Name}' differs in shape between the models.", nameof(source));
            from.Value.Span.CopyTo(parameter.Value.Span);
        }
    }

    /// <summary>A new model of <paramref name="source"/>'s configuration holding its weights; <paramref name="heads"/> are added, zero.</summary>
    public static ICausalLm Clone(ICausalLm source, IEnumerable<(string Name, int[] Shape, bool Decay)>? heads = null)
    {
        var headList = heads?.ToList() ?? [];
        var names = headList.Select(h => h.Name).ToHashSet();
        var model = CausalLmRegistry.Create(source.Config, headList);
        try
        {
            foreach (var parameter in model.Parameters.Parameters.Where(p => !names.Contains(p.Name)))
                source.Parameters[parameter.Name].Value.Span.CopyTo(parameter.Value.Span);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }
}
