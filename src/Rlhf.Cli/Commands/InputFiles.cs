// Early checks of the paths a command is given, before any data or model is loaded: a file where a file is wanted, a
// folder where a folder is wanted, and an output folder that is not an existing file.
namespace Rlhf.Cli.Commands;

internal static class InputFiles
{
    /// <summary>A data or prompt file given as <paramref name="option"/> must exist and be a file.</summary>
    public static string RequireFile(string path, string option)
    {
        if (Directory.Exists(path))
            throw new ArgumentException($"{option} {path} is a folder; give a data file in it (JSONL, JSON or .gz).");
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: the file {path} does not exist.");
        return path;
    }

    /// <summary>A model folder given as <paramref name="option"/> must exist and be a folder.</summary>
    public static string RequireFolder(string path, string option)
    {
        if (File.Exists(path)) throw new ArgumentException($"{option} {path} is a file; give the model's folder (with config.json).");
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{option}: the folder {path} does not exist.");
        return path;
    }

    /// <summary>An output folder given as <paramref name="option"/> must not be an existing file.</summary>
    public static string RequireOutputFolder(string path, string option)
    {
        if (File.Exists(path)) throw new ArgumentException($"{option} {path} is an existing file; give a folder for the outputs.");
        return path;
    }

    /// <summary>An output file given as <paramref name="option"/> must not be an existing folder.</summary>
    public static string RequireOutputFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"{option} {path} is a folder; give a file name.");
        return path;
    }
}
