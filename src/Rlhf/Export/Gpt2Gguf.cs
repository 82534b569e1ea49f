// GPT-2 in llama.cpp's terms (architecture "gpt2"): hyper-parameter keys and tensor names as llama.cpp's
// convert_hf_to_gguf.py and its gpt2 loader define them. Conv1D weights are [in, out]; ggml wants nn.Linear's
// [out, in] rows, so they are transposed (as the converter does). The LM head is tied: llama.cpp reuses token_embd.
using Rlhf.Models.Gpt2;
using Rlhf.Tensors;

namespace Rlhf.Export;

internal sealed class Gpt2Gguf : IGgufFamily
{
    private readonly Gpt2Model model;

    public Gpt2Gguf(Gpt2Model model)
    {
        this.model = model;
        var c = model.Config;
        HyperParameters =
        [
            ("gpt2.context_length", GgufValue.UInt32((uint)c.ContextLength)),
            ("gpt2.embedding_length", GgufValue.UInt32((uint)c.EmbeddingSize)),
            ("gpt2.feed_forward_length", GgufValue.UInt32((uint)(4 * c.EmbeddingSize))),
            ("gpt2.block_count", GgufValue.UInt32((uint)c.LayerCount)),
            ("gpt2.attention.head_count", GgufValue.UInt32((uint)c.HeadCount)),
            ("gpt2.attention.layer_norm_epsilon", GgufValue.Float32(c.LayerNormEpsilon)),
        ];
        Tensors = [.. BuildTensors()];
    }

    public string Architecture => "gpt2";

    public IReadOnlyList<(string Key, GgufValue Value)> HyperParameters { get; }

    public IReadOnlyList<GgufSource> Tensors { get; }

    private IEnumerable<GgufSource> BuildTensors()
    {
        yield return Copy("token_embd.weight", "transformer.wte.weight");
        yield return Copy("position_embd.weight", "transformer.wpe.weight") with { KeepFloat32 = true };
        for (int i = 0; i < model.Config.LayerCount; i++)
        {
            string hf = $"transformer.h.{i}.", gguf = $"blk.{i}.";
            yield return Copy(gguf + "attn_norm.weight", hf + "ln_1.weight");
            yield return Copy(gguf + "attn_norm.bias", hf + "ln_1.bias");
            yield return Transposed(gguf + "attn_qkv.weight", hf + "attn.c_attn.weight");
            yield return Copy(gguf + "attn_qkv.bias", hf + "attn.c_attn.bias");
            yield return Transposed(gguf + "attn_output.weight", hf + "attn.c_proj.weight");
            yield return Copy(gguf + "attn_output.bias", hf + "attn.c_proj.bias");
            yield return Copy(gguf + "ffn_norm.weight", hf + "ln_2.weight");
            yield return Copy(gguf + "ffn_norm.bias", hf + "ln_2.bias");
            yield return Transposed(gguf + "ffn_up.weight", hf + "mlp.c_fc.weight");
            yield return Copy(gguf + "ffn_up.bias", hf + "mlp.c_fc.bias");
            yield return Transposed(gguf + "ffn_down.weight", hf + "mlp.c_proj.weight");
            yield return Copy(gguf + "ffn_down.bias", hf + "mlp.c_proj.bias");
        }
        yield return Copy("output_norm.weight", "transformer.ln_f.weight");
        yield return Copy("output_norm.bias", "transformer.ln_f.bias");
    }

    private GgufSource Copy(string name, string parameter)
    {
        var value = model.Parameters[parameter].Value;
        return new GgufSource(name, [.. value.Shape], destination => value.Span.CopyTo(destination));
    }

    /// <summary>A Conv1D weight [in, out] written as [out, in].</summary>
    private GgufSource Transposed(string name, string parameter)
    {
        Tensor value = model.Parameters[parameter].Value;
        int rows = value.Shape[0], columns = value.Shape[1];
        return new GgufSource(name, [columns, rows], destination =>
        {
            var source = value.Span;
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) destination[c * rows + r] = source[r * columns + c];
        });
    }
}
