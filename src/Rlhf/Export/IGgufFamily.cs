// What a model family supplies to become a GGUF file: llama.cpp's architecture name, hyper-parameter keys and tensors.
namespace Rlhf.Export;

/// <summary>
/// A tensor in llama.cpp's naming with its values in row-major <paramref name="Shape"/> (PyTorch order; the writer
/// reverses it into ggml's). <paramref name="KeepFloat32"/> marks tensors llama.cpp's converter never narrows
/// (besides 1-D ones, which always stay fp32), e.g. GPT-2's position embedding.
/// </summary>
internal sealed record GgufSource(string Name, int[] Shape, Action<Span<float>> Fill, bool KeepFloat32 = false);

/// <summary>A model family's GGUF form. One implementation per family; <see cref="GgufExporter"/> picks it by model_type.</summary>
internal interface IGgufFamily
{
    /// <summary>general.architecture, also the prefix of the hyper-parameter keys (e.g. "gpt2").</summary>
    string Architecture { get; }

    /// <summary>Full keys, e.g. <c>gpt2.block_count</c>, as llama.cpp's loader reads them.</summary>
    IReadOnlyList<(string Key, GgufValue Value)> HyperParameters { get; }

    /// <summary>Every tensor llama.cpp's graph for this architecture needs, in file order.</summary>
    IReadOnlyList<GgufSource> Tensors { get; }
}
