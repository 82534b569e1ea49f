// The error raised when a model file (config.json, *.safetensors) is malformed or does not match the model.
namespace Rlhf.Models;

/// <summary>A model file is unreadable, malformed, or inconsistent with the model it is loaded into.</summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>The file at fault, as given by the caller.</summary>
    public string FilePath { get; }

    /// <summary>The problem without the file name (the full <see cref="Exception.Message"/> starts with the file).</summary>
    public string Detail { get; }

    internal ModelFormatException(string filePath, string message, Exception? innerException = null)
        : base($"{filePath}: {message}", innerException)
    {
        FilePath = filePath;
        Detail = message;
    }
}
