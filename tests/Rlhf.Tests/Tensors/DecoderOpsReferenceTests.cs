// The decoder ops composed into a Llama/Qwen2 forward pass, against the independent PyTorch fixtures of
// tools/reference/llama_fixture.py: logits ≤ 1e-4 at real tokens, the loss, every parameter gradient ≤ 1e-3 of its
// tensor's largest value, and KV-cache greedy generation token for token. This checks the ops and the fixtures against
// each other (the model classes themselves are tested with the same fixtures in Models).
using System.Text.Json;
using Rlhf.Models;
using Rlhf.Tensors;
using Rlhf.Tensors.Kernels;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Tensors;

public sealed unsafe class DecoderOpsReferenceTests
{
    public static readonly TheoryData<string> Cases = new() { "llama_gqa_sharded", "llama3_tied", "qwen2_bf16" };

    private sealed class Reference : IDisposable
    {
        public required JsonElement Config, Fixture;
        public required ParameterSet Parameters;
        public required string Folder;
        public string Type => Config.GetProperty("model_type").GetString()!;
        public int Get(string key) => Config.GetProperty(key).GetInt32();
        public int Heads => Get("num_attention_heads");
        public int KvHeads => Get("num_key_value_heads");
        public int Channels => Get("hidden_size");
        public int HeadDim => Config.TryGetProperty("head_dim", out var d) ? d.GetInt32() : Channels / Heads;
        public float Epsilon => (float)Config.GetProperty("rms_norm_eps").GetDouble();
        public bool Tied => Config.GetProperty("tie_word_embeddings").GetBoolean();
        public string Head => Tied ? "model.embed_tokens.weight" : "lm_head.weight";

        public (Tensor Cos, Tensor Sin) Rotary(int positions)
        {
            Llama3RopeScaling? scaling = null;
            if (Config.GetProperty("rope_scaling") is { ValueKind: JsonValueKind.Object } rs)
                scaling = new Llama3RopeScaling(rs.GetProperty("factor").GetDouble(), rs.GetProperty("low_freq_factor").GetDouble(),
                    rs.GetProperty("high_freq_factor").GetDouble(), rs.GetProperty("original_max_position_embeddings").GetInt32());
            var (cos, sin) = RotaryFrequencies.Tables(RotaryFrequencies.Inverse(HeadDim, Config.GetProperty("rope_theta").GetDouble(), scaling), positions);
            return (Tensor.FromArray(cos, positions, HeadDim / 2), Tensor.FromArray(sin, positions, HeadDim / 2));
        }

        public void Dispose() => Parameters.Dispose();
    }

    private static Reference Load(string name)
    {
        string folder = Fixtures.Path(name);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))).RootElement;
        var fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "fixture.json"))).RootElement;
        var files = new Dictionary<string, string>(); // tensor → file, from the shard index when there is one
        string index = Path.Combine(folder, "model.safetensors.index.json");
        if (File.Exists(index))
            foreach (var entry in JsonDocument.Parse(File.ReadAllText(index)).RootElement.GetProperty("weight_map").EnumerateObject())
                files[entry.Name] = entry.Value.GetString()!;
        else
            using (var single = SafeTensors.Open(Path.Combine(folder, "model.safetensors")))
                foreach (var tensor in single.Tensors.Keys) files[tensor] = "model.safetensors";
        var opened = files.Values.Distinct().ToDictionary(f => f, f => SafeTensors.Open(Path.Combine(folder, f)));
        try
        {
            var names = files.Keys.Order(StringComparer.Ordinal).ToList();
            var parameters = new ParameterSet(names.Select(n => (n, opened[files[n]].Tensors[n].Shape, opened[files[n]].Tensors[n].Shape.Length == 2)));
            foreach (var n in names) opened[files[n]].ReadInto(n, parameters[n].Value.Span);
            return new Reference { Config = config, Fixture = fixture, Parameters = parameters, Folder = folder };
        }
        finally
        {
            foreach (var file in opened.Values) file.Dispose();
        }
    }

    private static int[][] Rows(JsonElement root, string name) =>
        root.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();

    private static float[] Expected(Reference reference, string name)
    {
        using var file = SafeTensors.Open(Path.Combine(reference.Folder, "expected.safetensors"));
        var values = new float[file.Tensors[name].ElementCount];
        file.ReadInto(name, values);
        return values;
    }

    private static Node? Optional(Ops ops, Reference r, string name) => r.Parameters.TryGet(name, out var p) ? ops.Parameter(p) : null;

    /// <summary>
    /// The decoder stack on the tape: embed → per layer (RMSNorm → q/k/v → rotary → grouped attention → o_proj, residual;
    /// RMSNorm → SwiGLU MLP, residual) → final RMSNorm. With caches, attention runs over them (inference).
    /// </summary>
    private static Node Hidden(Ops ops, Reference r, int[] tokenIds, int[] positionIds, Tensor mask, int batch, int tokens,
        (Tensor Cos, Tensor Sin) rotary, (Tensor Keys, Tensor Values)[]? caches = null, int start = 0)
    {
        Node P(string name) => ops.Parameter(r.Parameters[name]);
        int H = r.Heads, KV = r.KvHeads, D = r.HeadDim;
        var x = ops.TokenEmbedding(P("model.embed_tokens.weight"), tokenIds);
        for (int layer = 0; layer < r.Get("num_hidden_layers"); layer++)
        {
            string prefix = $"model.layers.{layer}.";
            var h = ops.RmsNorm(x, P(prefix + "input_layernorm.weight"), r.Epsilon);
            Node Project(string module, Node input) => ops.LinearOutIn(input, P(prefix + module + ".weight"), Optional(ops, r, prefix + module + ".bias"));
            var q = ops.Rotary(Project("self_attn.q_proj", h), rotary.Cos, rotary.Sin, positionIds, H, D);
            var k = ops.Rotary(Project("self_attn.k_proj", h), rotary.Cos, rotary.Sin, positionIds, KV, D);
            var v = Project("self_attn.v_proj", h);
            var attention = caches is null
                ? ops.GroupedAttention(q, k, v, mask, batch, tokens, H, KV, D)
                : ops.CachedGroupedAttention(q, k, v, caches[layer].Keys, caches[layer].Values, mask, batch, tokens, start, H, KV, D);
            x = ops.Add(x, Project("self_attn.o_proj", attention));
            var m = ops.RmsNorm(x, P(prefix + "post_attention_layernorm.weight"), r.Epsilon);
            x = ops.Add(x, Project("mlp.down_proj", ops.SwiGlu(Project("mlp.gate_proj", m), Project("mlp.up_proj", m))));
        }
        return ops.RmsNorm(x, P("model.norm.weight"), r.Epsilon);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsLossAndGradientsMatchPyTorch(string name)
    {
        using var r = Load(name);
        var ids = Rows(r.Fixture, "input_ids");
        var maskRows = Rows(r.Fixture, "attention_mask");
        var labels = Rows(r.Fixture, "labels");
        int B = ids.Length, T = ids[0].Length, V = r.Get("vocab_size"), C = r.Channels;
        var tokenIds = ids.SelectMany(x => x).ToArray();
        var positionIds = Rows(r.Fixture, "position_ids").SelectMany(x => x).ToArray();
        var mask = Tensor.FromArray(maskRows.SelectMany(x => x).Select(x => (float)x).ToArray(), B, T);
        var targets = new int[B * T];
        var weights = new float[B * T];
        int counted = labels.Sum(row => row.Skip(1).Count(l => l != -100));
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                int label = t + 1 < T ? labels[b][t + 1] : -100;
                targets[b * T + t] = label == -100 ? -1 : label;
                weights[b * T + t] = label == -100 ? 0f : 1f / counted;
            }

        using var arena = new Arena();
        var tape = new Tape();
        var ops = new Ops(arena, tape);
        var hidden = Hidden(ops, r, tokenIds, positionIds, mask, B, T, r.Rotary(T));
        var head = r.Parameters[r.Head];

        var logits = new float[B * T * V];
        fixed (float* l = logits)
            LinearKernels.ForwardOutIn(l, hidden.Value.Pointer, head.Value.Pointer, null, B * T, C, V);
        var expectedLogits = Expected(r, "logits");
        double worst = 0;
        for (int n = 0; n < B * T; n++)
            if (maskRows[n / T][n % T] != 0)
                for (int v = 0; v < V; v++) worst = Math.Max(worst, Math.Abs(expectedLogits[n * V + v] - logits[n * V + v]));
        Assert.True(worst <= 1e-4, $"{name}: max |logit difference| {worst:G3} > 1e-4");

        var loss = ops.LinearCrossEntropy(hidden, ops.Parameter(head), targets, weights);
        tape.Backward();
        Assert.Equal(r.Fixture.GetProperty("loss").GetDouble(), loss.Value.Span[0], 1e-5);
        foreach (var parameter in r.Parameters.Parameters)
        {
            var expected = Expected(r, "grad." + parameter.Name);
            double scale = expected.Max(Math.Abs);
            double error = expected.Zip(parameter.Gradient.ToArray(), (e, a) => Math.Abs(e - a)).Max();
            Assert.True(error <= 1e-3 * scale, $"{name} {parameter.Name}: max |grad difference| {error:G3} > 1e-3 × {scale:G3}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CachedGreedyGenerationMatchesPyTorch(string name)
    {
        using var r = Load(name);
        var generation = r.Fixture.GetProperty("generation");
        var prompts = Rows(generation, "prompt_ids");
        var promptMask = Rows(generation, "prompt_mask");
        var expected = Rows(generation, "tokens");
        int B = prompts.Length, P = prompts[0].Length, steps = generation.GetProperty("new_tokens").GetInt32();
        int capacity = P + steps, KV = r.KvHeads, D = r.HeadDim, C = r.Channels, V = r.Get("vocab_size");
        var rotary = r.Rotary(capacity);
        var caches = Enumerable.Range(0, r.Get("num_hidden_layers"))
            .Select(_ => (Tensor.Zeros(B, KV, D, CachedAttentionKernels.KeyStride(capacity)), Tensor.Zeros(B, KV, capacity, D))).ToArray();
        var cacheMask = Tensor.Zeros(B, capacity);
        var nextPosition = new int[B];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < capacity; t++) cacheMask.Span[b * capacity + t] = t < P ? promptMask[b][t] : 1f;

        var tokenIds = prompts.SelectMany(x => x).ToArray();
        var positionIds = new int[B * P];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < P; t++)
            {
                positionIds[b * P + t] = Math.Max(0, nextPosition[b] - 1 + promptMask[b][t]);
                nextPosition[b] += promptMask[b][t];
            }
        var generated = new int[B][];
        for (int b = 0; b < B; b++) generated[b] = new int[steps];
        int start = 0, count = P;
        for (int step = 0; step < steps; step++)
        {
            using var arena = new Arena();
            var ops = new Ops(arena, new Tape { Enabled = false });
            var hidden = Hidden(ops, r, tokenIds, positionIds, cacheMask, B, count, rotary, caches, start);
            var logits = new float[V];
            var next = new int[B];
            for (int b = 0; b < B; b++)
            {
                fixed (float* l = logits)
                    LinearKernels.ForwardOutIn(l, hidden.Value.Pointer + ((long)b * count + count - 1) * C, r.Parameters[r.Head].Value.Pointer, null, 1, C, V);
                next[b] = Array.IndexOf(logits, logits.Max());
                generated[b][step] = next[b];
            }
            start += count;
            count = 1;
            tokenIds = next;
            positionIds = nextPosition.ToArray();
            for (int b = 0; b < B; b++) nextPosition[b]++;
        }
        for (int b = 0; b < B; b++) Assert.Equal(expected[b], generated[b]);
    }
}
