// The samples of the public C# API run as a user runs them (their Main, in process) and print what they promise.
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Api;

[Collection("Console")]
public sealed partial class SampleTests
{
    private static string RunMain(string assemblyName, params string[] args)
    {
        var entry = Assembly.Load(assemblyName).EntryPoint ?? throw new InvalidOperationException($"{assemblyName} has no entry point.");
        using var capture = new ConsoleCapture();
        entry.Invoke(null, [args]);
        return capture.Text;
    }

    [Fact]
    public void DpoSampleTrainsAndTheLossFallsBelowLn2()
    {
        using var temp = new TempDirectory();
        string output = RunMain("DpoSample", temp.Sub("dpo"));
        var losses = LossLine().Matches(output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(4, losses.Length); // logging every 5 of 20 steps
        // DPO starts at ln 2 ≈ 0.693 (policy = reference); four pairs with one shared rejected answer are learned fast.
        Assert.True(losses[^1] < 0.6, $"final DPO loss {losses[^1]} is not below 0.6:\n{output}");
        Assert.Contains("Trained 20 steps", output);
        Assert.True(File.Exists(Path.Combine(temp.Sub("dpo"), "model.safetensors")), "the trained model folder was not written");
    }

    [Fact]
    public void ScoreSampleRanksTheChosenResponsesFirst()
    {
        string output = RunMain("ScoreSample");
        var match = RankedLine().Match(output);
        Assert.True(match.Success, output);
        // A reward model trained 30 steps on these four pairs ranks at least three of them right (it reaches 4 here).
        Assert.True(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) >= 3, output);
    }

    [Fact]
    public void LoraSampleTrainsAnAdapterFolderThatLoadsAndMergesToTheSameText()
    {
        using var temp = new TempDirectory();
        string output = RunMain("LoraSample", temp.Path);
        var losses = LossLine().Matches(output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(4, losses.Length);
        Assert.True(losses[^1] < 0.6, $"final DPO loss {losses[^1]} is not below 0.6:\n{output}");
        Assert.Contains("adapter folder: adapter_config.json, adapter_model.safetensors", output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "dpo-lora", "model.safetensors")));
        var texts = MergedLines().Match(output);
        Assert.True(texts.Success, output);
        Assert.Equal(texts.Groups[1].Value, texts.Groups[2].Value); // W + (α/r)·B·A generates what the adapters generate
    }

    [GeneratedRegex(@"with adapters: \[(.*)\]\r?\nmerged: +\[(.*)\]")]
    private static partial Regex MergedLines();

    [GeneratedRegex(@"step \d+/20  loss ([0-9.]+)")]
    private static partial Regex LossLine();

    [GeneratedRegex(@"scores higher in (\d) of 4 pairs")]
    private static partial Regex RankedLine();
}
