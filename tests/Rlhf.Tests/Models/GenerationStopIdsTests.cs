// generation_config.json's eos_token_id list (Llama 3 Instruct lists three) ends generation on any of its ids; its
// sampling defaults reach the options.
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Models;

public sealed class GenerationStopIdsTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void ConfigListOfEosIdsAndSamplingDefaultsReachTheOptions()
    {
        string path = folder.File(GenerationConfig.FileName);
        File.WriteAllText(path, """{"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": true, "temperature": 0.6, "top_p": 0.9}""");
        var config = GenerationConfig.Load(path);
        Assert.Equal(128001, config.EosTokenId);
        Assert.Equal([128001, 128008, 128009], config.EosTokenIds);
        var options = config.ToOptions();
        Assert.Equal([128001, 128008, 128009], options.EosTokenIds);
        Assert.True(options.DoSample);
        Assert.Equal(0.6f, options.Temperature);
        Assert.Equal(0.9f, options.TopP);

        config.Save(path);
        using var saved = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal([128001, 128008, 128009], saved.RootElement.GetProperty("eos_token_id").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(config.EosTokenIds, GenerationConfig.Load(path).EosTokenIds);

        File.WriteAllText(path, """{"eos_token_id": [1, "two"]}""");
        var error = Assert.Throws<ModelFormatException>(() => GenerationConfig.Load(path));
        Assert.Equal(path, error.FilePath);
    }

    [Fact]
    public void GenerationStopsOnAnyListedId()
    {
        string fixture = Fixtures.Path("gpt2_generate");
        var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture, "generate.json"))).RootElement.GetProperty("results")[0];
        int[] prompt = [.. reference.GetProperty("prompt").EnumerateArray().Select(x => x.GetInt32())];
        int[] greedy = [.. reference.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())];
        int stop = greedy[3];
        int firstAt = Array.IndexOf(greedy, stop);
        using var model = Gpt2Model.Load(fixture);
        // The single eos id is never produced; the second id of the list is.
        var options = new GenerationOptions { MaxNewTokens = 12, EosTokenId = model.Config.VocabSize - 1, EosTokenIds = [model.Config.VocabSize - 2, stop] };
        Assume(!greedy.Contains(model.Config.VocabSize - 1) && !greedy.Contains(model.Config.VocabSize - 2));
        var result = Generator.Generate(model, [prompt], options)[0];
        Assert.True(result.EndedWithEos);
        Assert.Equal(greedy[..(firstAt + 1)], result.Ids);
    }

    private static void Assume(bool condition) => Assert.True(condition, "the fixture's greedy ids must not contain the ids chosen as never-emitted stops");
}
