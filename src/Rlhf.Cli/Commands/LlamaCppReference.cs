// The llama.cpp reference of `rlhf bench generate`: the benchmark's model exported as GGUF in the same precision and
// timed by bench/llamacpp (LLamaSharp's CPU build of llama.cpp) in a child process, with the same shapes and threads.
using Rlhf.Export;
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Text;
using Rlhf.Training;

namespace Rlhf.Cli.Commands;

internal sealed class LlamaCppReference(ICausalLm model) : IDisposable
{
    public const string AssemblyPath = "bench/llamacpp/bin/Release/net10.0/LlamaCppReference.dll";

    private readonly Dictionary<WeightPrecision, GgufExportResult> files = [];
    private readonly string? assembly = ReferenceScripts.Find(AssemblyPath);

    /// <summary>Decode tokens/s and the weight bandwidth it implies, or why there is none.</summary>
    public (double? TokensPerSecond, double? GigabytesPerSecond, string? Failure) Run(WeightPrecision precision, int batch, int promptLength,
        int newTokens, int runs)
    {
        if (assembly is null) return (null, null, $"{AssemblyPath} not found (dotnet build bench/llamacpp -c Release)");
        if (!GgufExporter.SupportedModelTypes.Contains(model.Config.ModelType)) return (null, null, $"no GGUF export for {model.Config.ModelType} yet");
        if (!files.TryGetValue(precision, out var file))
        {
            // A byte-level vocabulary (256 bytes + end of text; the rest of the embedding's rows unused tokens):
            // the benchmark's prompts are random ids, so only the shapes matter.
            var tokenizer = BpeTrainer.Train([], 257);
            var folder = new ModelFolder(model, tokenizer); // not disposed: the model belongs to the benchmark
            string path = Path.Combine(Path.GetTempPath(), $"rlhf-bench-{Guid.NewGuid():N}.gguf");
            file = GgufExporter.Write(folder, model.Config.ModelType, path, precision == WeightPrecision.BFloat16 ? GgufOutType.BF16 : GgufOutType.F32, "rlhf-bench");
            files[precision] = file;
        }
        var result = ReferenceScripts.RunDotnet(assembly,
        [
            "--model", file.Path, "--batch-size", $"{batch}", "--prompt-len", $"{promptLength}", "--new-tokens", $"{newTokens}",
            "--threads", $"{Parallelism.ThreadCount}", "--runs", $"{runs}",
        ], out var failure);
        if (result?.GetProperty("tokens_per_s").GetDouble() is not double tokens) return (null, null, failure);
        return (tokens, file.MatrixBytes * tokens / batch / 1e9, null);
    }

    public void Dispose()
    {
        foreach (var file in files.Values) File.Delete(file.Path);
    }
}
