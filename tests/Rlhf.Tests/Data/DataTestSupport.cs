// Helpers for data tests: a scratch folder, fake encoders, file writers and the shipped sample's location.
using System.IO.Compression;
using System.Text;
using Rlhf.Data;

namespace Rlhf.Tests.Data;

internal sealed class DataTempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rlhf-data-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        string path = File(name);
        System.IO.File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    public string WriteGzip(string name, string content)
    {
        string path = File(name);
        using var file = System.IO.File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        gz.Write(Encoding.UTF8.GetBytes(content));
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One token per whitespace-separated word (the same rule as tools/data/make_hh_sample.py).</summary>
internal sealed class WordEncoder : ITextEncoder
{
    public int Calls { get; private set; }

    public int[] Encode(string text)
    {
        Calls++;
        return new int[text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length];
    }
}

/// <summary>One token per character.</summary>
internal sealed class CharEncoder : ITextEncoder
{
    public int[] Encode(string text) => new int[text.Length];
}

internal static class DataSamples
{
    /// <summary>data/samples/hh-rlhf-sample.jsonl.gz (synthetic), found by walking up from the test assembly to the repository.</summary>
    public static string HhSample => Find("hh-rlhf-sample.jsonl.gz");

    /// <summary>data/samples/hh-rlhf-harmless-test.jsonl.gz: 198 real rows of Anthropic's hh-rlhf harmless-base test split.</summary>
    public static string HhReal => Find("hh-rlhf-harmless-test.jsonl.gz");

    private static string Find(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "data", "samples", name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"data/samples/{name} not found above " + AppContext.BaseDirectory);
    }
}
