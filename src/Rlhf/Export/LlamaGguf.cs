// The Llama family in llama.cpp's terms, as its convert_hf_to_gguf.py writes it: model_type llama and mistral become
// architecture "llama", qwen2 becomes "qwen2". Keys {arch}.context_length, embedding_length, feed_forward_length,
// block_count, attention.head_count(_kv), attention.key_length/value_length, attention.layer_norm_rms_epsilon,
// rope.freq_base, rope.dimension_count, vocab_size; tensors token_embd, blk.N.{attn_norm, attn_q/k/v/output (+ biases),
// ffn_norm, ffn_gate/up/down (+ biases)}, output_norm, output (absent when tied: llama.cpp reuses token_embd), and
// rope_freqs for Llama 3's rope_scaling.
//
// Rotary layout: transformers rotates the halves of each head (rotate_half: dimension j pairs with j + d/2), llama.cpp's
// "llama" graph rotates adjacent pairs (2j, 2j+1). The converter therefore permutes the rows of q_proj and k_proj (and
// their biases) within each head: new row 2j + k = old row k·d/2 + j. Attention scores are unchanged because q and k
// are permuted alike. "qwen2" uses NEOX (half-split) rotary in llama.cpp, so its rows stay as they are.
using Rlhf.Models.Llama;
using Rlhf.Tensors;

namespace Rlhf.Export;

internal sealed class LlamaGguf : IGgufFamily
{
    private readonly LlamaModel model;
    private readonly bool interleavedRotary;

    public LlamaGguf(LlamaModel model)
    {
        this.model = model;
        var c = model.Config;
        Architecture = c.Family == "qwen2" ? "qwen2" : "llama";
        interleavedRotary = Architecture == "llama";
        if (c.Family == "qwen2" && c.MlpBias)
            throw new ArgumentException("A qwen2 model with MLP biases has no form in llama.cpp's qwen2 architecture.");
        string a = Architecture;
        HyperParameters =
        [
            ($"{a}.vocab_size", GgufValue.UInt32((uint)c.VocabSize)),
            ($"{a}.context_length", GgufValue.UInt32((uint)(c.MaxPositionEmbeddings ?? c.ContextLength))),
            ($"{a}.embedding_length", GgufValue.UInt32((uint)c.Hidden)),
            ($"{a}.block_count", GgufValue.UInt32((uint)c.LayerCount)),
            ($"{a}.feed_forward_length", GgufValue.UInt32((uint)c.IntermediateSize)),
            ($"{a}.attention.head_count", GgufValue.UInt32((uint)c.HeadCount)),
            ($"{a}.attention.head_count_kv", GgufValue.UInt32((uint)c.KeyValueHeadCount)),
            ($"{a}.attention.key_length", GgufValue.UInt32((uint)c.HeadDim)),
            ($"{a}.attention.value_length", GgufValue.UInt32((uint)c.HeadDim)),
            ($"{a}.attention.layer_norm_rms_epsilon", GgufValue.Float32(c.RmsNormEpsilon)),
            ($"{a}.rope.freq_base", GgufValue.Float32((float)c.RopeTheta)),
            ($"{a}.rope.dimension_count", GgufValue.UInt32((uint)c.HeadDim)),
        ];
        Tensors = [.. BuildTensors()];
    }

    public string Architecture { get; }

    public IReadOnlyList<(string Key, GgufValue Value)> HyperParameters { get; }

    public IReadOnlyList<GgufSource> Tensors { get; }

    private IEnumerable<GgufSource> BuildTensors()
    {
        var c = model.Config;
        yield return Copy("token_embd.weight", "model.embed_tokens.weight");
        if (c.RopeScaling is not null) yield return RopeFactors();
        for (int i = 0; i < c.LayerCount; i++)
        {
            string hf = $"model.layers.{i}.", gguf = $"blk.{i}.";
            yield return Copy(gguf + "attn_norm.weight", hf + "input_layernorm.weight");
            yield return Rotary(gguf + "attn_q.weight", hf + "self_attn.q_proj.weight", c.HeadCount);
            if (c.QkvBias) yield return Rotary(gguf + "attn_q.bias", hf + "self_attn.q_proj.bias", c.HeadCount);
            yield return Rotary(gguf + "attn_k.weight", hf + "self_attn.k_proj.weight", c.KeyValueHeadCount);
            if (c.QkvBias) yield return Rotary(gguf + "attn_k.bias", hf + "self_attn.k_proj.bias", c.KeyValueHeadCount);
            yield return Copy(gguf + "attn_v.weight", hf + "self_attn.v_proj.weight");
            if (c.QkvBias) yield return Copy(gguf + "attn_v.bias", hf + "self_attn.v_proj.bias");
            yield return Copy(gguf + "attn_output.weight", hf + "self_attn.o_proj.weight");
            if (c.OutputBias) yield return Copy(gguf + "attn_output.bias", hf + "self_attn.o_proj.bias");
            yield return Copy(gguf + "ffn_norm.weight", hf + "post_attention_layernorm.weight");
            foreach (string projection in new[] { "gate", "up", "down" })
            {
                yield return Copy($"{gguf}ffn_{projection}.weight", $"{hf}mlp.{projection}_proj.weight");
                if (c.MlpBias) yield return Copy($"{gguf}ffn_{projection}.bias", $"{hf}mlp.{projection}_proj.bias");
            }
        }
        yield return Copy("output_norm.weight", "model.norm.weight");
        if (!c.TieWordEmbeddings) yield return Copy("output.weight", "lm_head.weight");
    }

    private GgufSource Copy(string name, string parameter)
    {
        var value = model.Parameters[parameter].Value;
        return new GgufSource(name, [.. value.Shape], destination => value.Span.CopyTo(destination));
    }

    /// <summary>q or k (weight [heads·d, in] or bias [heads·d]) in llama.cpp's rotary row order (see the file comment).</summary>
    private GgufSource Rotary(string name, string parameter, int heads)
    {
        if (!interleavedRotary) return Copy(name, parameter);
        var value = model.Parameters[parameter].Value;
        int d = model.Config.HeadDim, half = d / 2;
        int width = value.Shape.Length == 2 ? value.Shape[1] : 1;
        return new GgufSource(name, [.. value.Shape], destination =>
        {
            var source = value.Span;
            for (int h = 0; h < heads; h++)
                for (int j = 0; j < half; j++)
                    for (int k = 0; k < 2; k++)
                        source.Slice((h * d + k * half + j) * width, width).CopyTo(destination.Slice((h * d + 2 * j + k) * width, width));
        });
    }

    /// <summary>
    /// rope_freqs.weight [d/2]: llama.cpp divides each rotary frequency by its factor, so the factor is the plain
    /// frequency over Llama 3's scaled one (the converter's rope_factors, computed from our own tables).
    /// </summary>
    private GgufSource RopeFactors()
    {
        var c = model.Config;
        var plain = RotaryFrequencies.Inverse(c.HeadDim, c.RopeTheta);
        var scaled = RotaryFrequencies.Inverse(c.HeadDim, c.RopeTheta, c.RopeScaling);
        return new GgufSource("rope_freqs.weight", [plain.Length], destination =>
        {
            for (int i = 0; i < plain.Length; i++) destination[i] = plain[i] / scaled[i];
        });
    }
}
