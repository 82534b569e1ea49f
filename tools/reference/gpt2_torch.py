"""Minimal, independent plain-PyTorch GPT-2 (HF-compatible parameter names and layout).

Shared by tools/reference/gpt2_fixture.py (reference fixtures) and bench/pytorch_train.py
(training-step benchmark). Written against torch 1.13 (Debian python3-torch); no transformers.

Architecture (matches HF GPT2LMHeadModel):
  h = wte[input_ids] + wpe[position_ids]
  for each block: h = h + attn(ln_1(h)); h = h + mlp(ln_2(h))
  h = ln_f(h); logits = h @ wte^T            (LM head tied to wte, no bias)
  attn: qkv = c_attn(x) (Conv1D [C,3C]) -> q|k|v, split into heads,
        softmax(q k^T / sqrt(hs) + mask) v, merge heads, c_proj (Conv1D [C,C])
  mlp : c_proj(gelu_new(c_fc(x)))  with c_fc [C,4C], c_proj [4C,C]
  Conv1D stores weight as [in, out]: y = x @ W + b.  LayerNorm eps = 1e-5.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02

    def to_hf_dict(self, bos_token_id=None, eos_token_id=None):
        d = {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": None,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation_function": "gelu_new",
            "initializer_range": self.initializer_range,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "tie_word_embeddings": True,
            "bos_token_id": self.vocab_size - 1 if bos_token_id is None else bos_token_id,
            "eos_token_id": self.vocab_size - 1 if eos_token_id is None else eos_token_id,
        }
        return d


def gelu_new(x):
    """HF 'gelu_new': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """HF Conv1D: weight [in, out], y = x @ W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        shp = x.shape[:-1] + (self.weight.shape[1],)
        y = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return y.view(shp)


class Attention(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.n_embd = cfg.n_embd
        self.c_attn = Conv1D(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)
        causal = torch.tril(torch.ones(cfg.n_positions, cfg.n_positions, dtype=torch.bool))
        self.register_buffer("causal", causal.view(1, 1, cfg.n_positions, cfg.n_positions), persistent=False)

    def forward(self, x, key_padding_mask=None):
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # [B, nh, T, hs]
        k = k.view(B, T, nh, hs).transpose(1, 2)
        v = v.view(B, T, nh, hs).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # [B, nh, T, T]
        allowed = self.causal[:, :, :T, :T]
        if key_padding_mask is not None:
            # key_padding_mask: [B, T] bool, True = real token (may be attended to)
            allowed = allowed & key_padding_mask[:, None, None, :]
        # masked_fill with the dtype's most negative finite value: no NaN even for fully
        # masked rows (those only occur for padding queries, which never reach the loss).
        att = att.masked_fill(~allowed, torch.finfo(att.dtype).min)
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v)  # [B, nh, T, hs]
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = Conv1D(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x, key_padding_mask=None):
        x = x + self.attn(self.ln_1(x), key_padding_mask)
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT2Model(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        B, T = input_ids.shape
        if position_ids is None:
            if attention_mask is not None:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
            else:
                position_ids = torch.arange(T, device=input_ids.device).unsqueeze(0).expand(B, T)
        key_padding_mask = None if attention_mask is None else attention_mask.bool()
        x = self.wte(input_ids) + self.wpe(position_ids)
        for block in self.h:
            x = block(x, key_padding_mask)
        return self.ln_f(x)


class GPT2LMHead(nn.Module):
    """Parameter names: transformer.* exactly as HF GPT2LMHeadModel (lm_head tied, not a parameter)."""

    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.cfg = cfg
        self.transformer = GPT2Model(cfg)

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        h = self.transformer(input_ids, attention_mask, position_ids)
        return F.linear(h, self.transformer.wte.weight)  # logits = h @ wte^T


def init_hf_like(model: GPT2LMHead, generator: torch.Generator, randomize_bias_and_ln: bool = True):
    """HF-style init: N(0, 0.02) for embeddings and Conv1D weights, c_proj weights
    N(0, 0.02/sqrt(2*n_layer)). HF zero-inits biases and uses LN weight=1/bias=0; with
    randomize_bias_and_ln=True biases get N(0, 0.02), LN weights 1 + N(0, 0.1), LN biases
    N(0, 0.02) so that their gradients/effects are exercised by tests.
    Parameters are initialised in named_parameters() order from `generator`."""
    cfg = model.cfg
    std = cfg.initializer_range
    proj_std = std / math.sqrt(2 * cfg.n_layer)
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            if ".ln_" in name or name.startswith("transformer.ln_f"):
                if name.endswith(".weight"):
                    if randomize_bias_and_ln:
                        v = 1.0 + 0.1 * torch.randn(shape, generator=generator)
                    else:
                        v = torch.ones(shape)
                else:
                    v = 0.02 * torch.randn(shape, generator=generator) if randomize_bias_and_ln else torch.zeros(shape)
            elif name.endswith(".bias"):
                v = std * torch.randn(shape, generator=generator) if randomize_bias_and_ln else torch.zeros(shape)
            elif name.endswith("c_proj.weight"):
                v = proj_std * torch.randn(shape, generator=generator)
            else:  # wte, wpe, c_attn.weight, c_fc.weight
                v = std * torch.randn(shape, generator=generator)
            p.copy_(v.to(p.dtype))


def lm_loss(logits, labels):
    """HF causal-LM convention: mean CE of logits[:, :-1] vs labels[:, 1:], ignoring -100."""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def count_params(model):
    seen = set()
    n = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n
