// `rlhf init`: writes a loadable model, refuses to overwrite one, reports bad sizes.
using Rlhf.Cli;
using Rlhf.Models;
using Xunit;

namespace Rlhf.Tests.Cli;

public class InitCommandTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "rlhf-init-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    private static string[] Tiny(string output, params string[] extra) =>
        ["init", "--output", output, "--n-layer", "2", "--n-head", "2", "--n-embd", "16", "--vocab-size", "50", "--n-positions", "32", .. extra];

    [Fact]
    public void WritesAModelThatLoadsBack()
    {
        Assert.Equal(0, RlhfApp.Run(Tiny(folder, "--seed", "5")));
        using var model = Gpt2Model.Load(folder);
        Assert.Equal(2, model.Config.LayerCount);
        Assert.Equal(16, model.Config.EmbeddingSize);
        Assert.Equal(50, model.Config.VocabSize);
        using var again = Gpt2Model.CreateRandom(model.Config, seed: 5);
        Assert.Equal(again.Parameters["transformer.h.1.mlp.c_fc.weight"].Value.ToArray(), model.Parameters["transformer.h.1.mlp.c_fc.weight"].Value.ToArray());
    }

    [Fact]
    public void RefusesToOverwriteAnExistingModelUnlessAsked()
    {
        Assert.Equal(0, RlhfApp.Run(Tiny(folder, "--seed", "1")));
        byte[] before = File.ReadAllBytes(Path.Combine(folder, Gpt2Model.WeightsFileName));
        Assert.NotEqual(0, RlhfApp.Run(Tiny(folder, "--seed", "2")));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(folder, Gpt2Model.WeightsFileName)));
        Assert.Equal(0, RlhfApp.Run(Tiny(folder, "--seed", "2", "--overwrite-output-dir")));
        Assert.NotEqual(before, File.ReadAllBytes(Path.Combine(folder, Gpt2Model.WeightsFileName)));
    }

    [Fact]
    public void InvalidSizesFailWithoutWritingAnything()
    {
        Assert.NotEqual(0, RlhfApp.Run(["init", "--output", folder, "--n-embd", "10", "--n-head", "3"]));
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void PresetGpt2HasGpt2Sizes()
    {
        var config = Gpt2Config.Preset("gpt2");
        Assert.Equal(124_439_808, Gpt2Model.Layout(config).Sum(p => p.Shape.Aggregate(1L, (a, b) => a * b)));
    }
}
