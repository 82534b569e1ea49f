// Writes a file all-or-nothing: a temp file beside the target, flushed to disk, then renamed over it.
namespace Rlhf.Models;

internal static class AtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> against <c>path + ".tmp-&lt;random&gt;"</c> in the same folder, flushes it to disk and
    /// moves it over <paramref name="path"/>. On any failure the temp file is deleted and an existing file is untouched.
    /// </summary>
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        string tempPath = $"{fullPath}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
