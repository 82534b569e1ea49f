"""Minimal, independent plain-PyTorch Llama / Qwen2 (Hugging Face parameter names and layout).

Used by tools/reference/llama_fixture.py. Written against torch 1.13 (Debian python3-torch); no transformers.
Semantics follow transformers' modeling_llama.py / modeling_qwen2.py (LlamaForCausalLM, Qwen2ForCausalLM):

  h = embed_tokens[input_ids]                                   (no learned positions)
  for each layer: h = h + self_attn(input_layernorm(h)); h = h + mlp(post_attention_layernorm(h))
  h = norm(h); logits = lm_head(h)  (lm_head.weight [V, C], or embed_tokens.weight when tie_word_embeddings)
  RMSNorm(x) = weight * x / sqrt(mean(x^2, -1) + rms_norm_eps)
  self_attn: q = q_proj(x) [.., H*D], k = k_proj(x), v = v_proj(x) [.., KV*D]   (nn.Linear: y = x W^T + b, W [out, in])
             rotary on q and k: x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x[D/2:], x[:D/2]),
             cos/sin of position_ids * inv_freq duplicated over both halves (computed in fp32, as transformers does)
             repeat_kv: query head h uses key/value head h // (H/KV)
             softmax(q k^T * D^-0.5 + causal/padding mask) v, heads merged, o_proj
  mlp: down_proj(silu(gate_proj(x)) * up_proj(x))
  biases: llama -> attention_bias on q/k/v/o, mlp_bias on gate/up/down; qwen2 -> q/k/v always, o and mlp never.
  inv_freq = 1 / rope_theta^(arange(0, D, 2)/D), then rope_scaling type "llama3" (_compute_llama3_parameters).
"""
import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LlamaConfig:
    model_type: str = "llama"          # "llama" or "qwen2"
    vocab_size: int = 97
    hidden_size: int = 32
    intermediate_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: Optional[int] = None     # llama only; default hidden_size // num_attention_heads
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = None
    attention_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 64
    initializer_range: float = 0.02
    bos_token_id: int = 1
    eos_token_id: int = 2
    torch_dtype: str = "float32"

    @property
    def dim(self):
        return self.head_dim or self.hidden_size // self.num_attention_heads

    def qkv_bias(self):
        return True if self.model_type == "qwen2" else self.attention_bias

    def o_bias(self):
        return False if self.model_type == "qwen2" else self.attention_bias

    def mlp_has_bias(self):
        return False if self.model_type == "qwen2" else self.mlp_bias

    @staticmethod
    def from_hf_dict(d):
        """From a transformers config.json (model_type llama or qwen2)."""
        assert d["model_type"] in ("llama", "qwen2"), d["model_type"]
        keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "rms_norm_eps", "rope_theta", "rope_scaling", "attention_bias", "mlp_bias", "tie_word_embeddings",
                "max_position_embeddings", "initializer_range", "bos_token_id", "eos_token_id", "torch_dtype")
        kw = {k: d[k] for k in keys if k in d and d[k] is not None}
        kw["num_key_value_heads"] = d.get("num_key_value_heads") or d["num_attention_heads"]
        if d["model_type"] == "llama" and d.get("head_dim"):
            kw["head_dim"] = d["head_dim"]
        return LlamaConfig(model_type=d["model_type"], **kw)

    def to_hf_dict(self):
        d = {
            "architectures": ["Qwen2ForCausalLM" if self.model_type == "qwen2" else "LlamaForCausalLM"],
            "model_type": self.model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "hidden_act": "silu",
            "max_position_embeddings": self.max_position_embeddings,
            "initializer_range": self.initializer_range,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "attention_dropout": 0.0,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "torch_dtype": self.torch_dtype,
            "use_cache": True,
        }
        if self.model_type == "qwen2":
            d.update({"use_sliding_window": False, "sliding_window": None, "max_window_layers": self.num_hidden_layers})
        else:
            d.update({"attention_bias": self.attention_bias, "mlp_bias": self.mlp_bias, "pretraining_tp": 1})
            if self.head_dim is not None:
                d["head_dim"] = self.head_dim
        return d


def inverse_frequencies(cfg: LlamaConfig):
    """inv_freq in float32, step by step as transformers' _compute_default_rope_parameters / _compute_llama3_parameters."""
    dim = cfg.dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.rope_scaling
    if rs is None or rs.get("rope_type", rs.get("type")) in (None, "default"):
        return inv_freq
    assert rs.get("rope_type", rs.get("type")) == "llama3", rs
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    # wavelengths longer than the low-frequency wavelength: divide by factor; shorter than the high one: keep
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between: blend
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rotary_cos_sin(cfg, position_ids):
    """cos, sin [B, T, D] in float32 (transformers computes them in fp32 whatever the model dtype)."""
    inv_freq = inverse_frequencies(cfg)
    freqs = position_ids.float()[:, :, None] * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        assert cfg.num_attention_heads % cfg.num_key_value_heads == 0
        self.cfg = cfg
        H, KV, D, C = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.dim, cfg.hidden_size
        self.q_proj = nn.Linear(C, H * D, bias=cfg.qkv_bias())
        self.k_proj = nn.Linear(C, KV * D, bias=cfg.qkv_bias())
        self.v_proj = nn.Linear(C, KV * D, bias=cfg.qkv_bias())
        self.o_proj = nn.Linear(H * D, C, bias=cfg.o_bias())

    def forward(self, x, cos, sin, mask_bias, past=None):
        """x [B, n, C] → ([B, n, C], (k, v)); past (k, v) [B, KV, L0, D] (rotary applied) is prepended when given."""
        cfg = self.cfg
        B, T, _ = x.shape
        H, KV, D = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.dim
        q = self.q_proj(x).view(B, T, H, D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, KV, D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, KV, D).transpose(1, 2)
        cos = cos.to(x.dtype)[:, None]
        sin = sin.to(x.dtype)[:, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        L, rep = k.shape[2], H // KV
        kr = k[:, :, None].expand(B, KV, rep, L, D).reshape(B, H, L, D)
        vr = v[:, :, None].expand(B, KV, rep, L, D).reshape(B, H, L, D)
        scores = (q @ kr.transpose(-1, -2)) * D ** -0.5 + mask_bias
        probs = F.softmax(scores, dim=-1)
        y = (probs @ vr).transpose(1, 2).reshape(B, T, H * D)
        return self.o_proj(y), (k, v)


class MLP(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        bias = cfg.mlp_has_bias()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=bias)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=bias)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, h, cos, sin, mask_bias, past=None):
        a, kv = self.self_attn(self.input_layernorm(h), cos, sin, mask_bias, past)
        h = h + a
        return h + self.mlp(self.post_attention_layernorm(h)), kv


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    """Parameter names as transformers: model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ...,
    model.norm.weight, lm_head.weight (absent when tied)."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def forward(self, input_ids, attention_mask, position_ids, pasts=None, return_pasts=False):
        """input_ids [B, n] → logits [B, n, V]. attention_mask [B, L] covers the cached keys and the n new ones
        (L = cached + n); pasts: one (k, v) per layer from an earlier call with return_pasts=True (the KV cache)."""
        B, n = input_ids.shape
        h = self.model.embed_tokens(input_ids)
        cos, sin = rotary_cos_sin(self.cfg, position_ids)
        L = attention_mask.shape[1]
        # additive mask: dtype minimum where the key is in the future or padding (transformers' eager path)
        causal = torch.ones(n, L, dtype=torch.bool).tril(L - n)
        allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
        mask_bias = torch.zeros(B, 1, n, L, dtype=h.dtype).masked_fill(~allowed, torch.finfo(h.dtype).min)
        new_pasts = []
        for i, layer in enumerate(self.model.layers):
            h, kv = layer(h, cos, sin, mask_bias, pasts[i] if pasts else None)
            new_pasts.append(kv)
        h = self.model.norm(h)
        head = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        logits = h @ head.t()
        return (logits, new_pasts) if return_pasts else logits


def init_random(model: LlamaForCausalLM, gen: torch.Generator, std: float):
    """N(0, std) for every matrix and embedding (transformers' _init_weights with initializer_range = std);
    biases N(0, 0.02) and RMSNorm weights 1 + N(0, 0.1) instead of 0 and 1, so their gradients are exercised."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std * torch.randn(p.shape, generator=gen))


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def lm_loss(logits, labels):
    """Mean cross-entropy of next-token prediction over labels != -100 (transformers' ForCausalLMLoss)."""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def positions_from_mask(attention_mask):
    """position_ids = clamp(cumsum(attention_mask) - 1, min=0): left padding does not shift the real tokens."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)
