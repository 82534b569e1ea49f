// The model families every trainer test runs on: GPT-2 (tied head, learned positions) and a Llama of the same size
// (GQA, rotary, SwiGLU, separate lm_head.weight).
using Rlhf.Models;
using Rlhf.Models.Llama;
using Xunit;

namespace Rlhf.Tests.Support;

internal static class ModelFamilies
{
    public const string Gpt2 = "gpt2";
    public const string Llama = "llama";

    public static TheoryData<string> Both => new() { Gpt2, Llama };

    /// <summary>The token embedding's parameter name.</summary>
    public static string EmbeddingName(string family) => family == Gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight";

    /// <summary>A few parameters of every kind (embedding, attention, MLP, final norm, separate head) for gradient checks.</summary>
    public static string[] SampleParameters(string family) => family == Gpt2
        ? ["transformer.wte.weight", "transformer.h.1.attn.c_attn.weight", "transformer.h.0.mlp.c_fc.weight", "transformer.ln_f.weight"]
        : ["model.embed_tokens.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.gate_proj.weight", "model.norm.weight", "lm_head.weight"];

    /// <summary><paramref name="gpt2"/> itself, or a Llama with its vocabulary, context, width, depth, heads and token ids
    /// (half as many key/value heads, an untied head).</summary>
    public static CausalLmConfig Tiny(string family, Gpt2Config gpt2) => family switch
    {
        Gpt2 => gpt2,
        Llama => new LlamaConfig
        {
            VocabSize = gpt2.VocabSize, ContextLength = gpt2.ContextLength, Hidden = gpt2.EmbeddingSize, LayerCount = gpt2.LayerCount,
            HeadCount = gpt2.HeadCount, KeyValueHeadCount = Math.Max(1, gpt2.HeadCount / 2), HeadDim = gpt2.HeadSize,
            IntermediateSize = 2 * gpt2.EmbeddingSize + 8, RmsNormEpsilon = 1e-5f, InitializerRange = gpt2.InitializerRange,
            BosTokenId = gpt2.BosTokenId, EosTokenId = gpt2.EosTokenId, PadTokenId = gpt2.PadTokenId, Architecture = "LlamaForCausalLM",
        },
        _ => throw new ArgumentException($"Unknown family '{family}'."),
    };
}
