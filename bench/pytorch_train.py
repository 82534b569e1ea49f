#!/usr/bin/python3
"""PyTorch reference benchmark: one training step of GPT-2 or (--hf-config) a Llama/Qwen2, fp32 on CPU.

Run the fair reference as (OPENBLAS_CORETYPE=Haswell roughly halves PyTorch's speed here):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/pytorch_train.py \
      --preset gpt2 --batch-size 4 --seq-len 256 --steps 2
  ... bench/pytorch_train.py --hf-config MODEL_FOLDER/config.json --batch-size 4 --seq-len 256
(--hf-config: model_type llama or qwen2 through tools/reference/llama_torch.py, transformers' eager attention.)

The same setups as `rlhf bench train`, written in plain PyTorch (no peft installed):
  --lora-r 16 --lora-alpha 32 --lora-dropout 0.05 --lora-target-modules q_proj,v_proj|all-linear
      LoRA (Hu et al. 2021, PEFT's LoraLayer): every base parameter requires_grad=False; each targeted module gets
      A [r, in] (kaiming_uniform_(a=sqrt(5)), PEFT's init) and B [out, r] (zeros), y = W x + b + (alpha/r) * B A dropout(x);
      AdamW over the adapters only. Targets match a module's name or its last part (PEFT's rule); all-linear = every
      Linear/Conv1D but the output head.
  --gradient-checkpointing
      every block under torch.utils.checkpoint (non-reentrant: the frozen embedding's output needs no gradient).
  --base-dtype bfloat16 (with LoRA)
      the frozen linear weights (not the embedding / LM head) stored once in bfloat16, upcast to fp32 at each use:
      Rlhf.NET's numerics (bf16-rounded weights, fp32 activations and sums) in plain PyTorch.

Each step: forward on random token ids (fixed seed), mean cross-entropy over all positions
(next-token targets), backward, AdamW step (lr 1e-4), zero_grad(set_to_none=True).
Model code: tools/reference/gpt2_torch.py (plain PyTorch 1.13, explicit softmax attention,
no torch.compile). Prints one JSON line at the end.
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
from gpt2_torch import GPT2Config, GPT2LMHead, init_hf_like, count_params  # noqa: E402
import llama_torch  # noqa: E402
from peft_lora_fixture import linear_modules  # noqa: E402



class LoraLinear(nn.Module):
    """A frozen linear layer (nn.Linear [out, in] or GPT-2's Conv1D [in, out]) plus a trained low-rank update."""

    def __init__(self, base, conv1d, r, alpha, dropout):
        super().__init__()
        n_in, n_out = (base.weight.shape[0], base.weight.shape[1]) if conv1d else (base.weight.shape[1], base.weight.shape[0])
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, n_in))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(n_out, r))
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.base(x) + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scaling


def attach_lora(model, targets, r, alpha, dropout):
    """Freezes every parameter, wraps the targeted modules; returns the adapted module paths."""
    for p in model.parameters():
        p.requires_grad_(False)
    chosen = [(path, module, conv1d) for path, module, conv1d in linear_modules(model)
              if targets == ["all-linear"] or any(path == t or path.split(".")[-1] == t for t in targets)]
    if not chosen:
        sys.exit(f"--lora-target-modules {','.join(targets)} matches no linear module")
    for path, module, conv1d in chosen:
        parent, _, leaf = path.rpartition(".")
        setattr(model.get_submodule(parent), leaf, LoraLinear(module, conv1d, r, alpha, dropout))
    return [path for path, _, _ in chosen]


class Bf16Weight(nn.Module):
    """A frozen nn.Linear or Conv1D whose weight is kept only in bfloat16 and upcast to fp32 when used."""

    def __init__(self, base, conv1d):
        super().__init__()
        self.conv1d = conv1d
        self.register_buffer("weight", base.weight.detach().to(torch.bfloat16))
        self.bias = base.bias

    def forward(self, x):
        w = self.weight.float()
        y = x @ w if self.conv1d else x @ w.t()
        return y if self.bias is None else y + self.bias


def pack_base_bf16(model):
    """Every frozen linear layer but the output head in bfloat16 (adapted ones inside their LoraLinear)."""
    for path, module, conv1d in list(linear_modules(model)):
        parent, _, leaf = path.rpartition(".")
        owner = model.get_submodule(parent)
        if isinstance(owner, LoraLinear) and leaf == "base":
            owner.base = Bf16Weight(module, conv1d)
        else:
            setattr(owner, leaf, Bf16Weight(module, conv1d))


class Checkpointed(nn.Module):
    """A block recomputed in backward (its activations not kept); Llama's layers return (h, kv): kv is dropped."""

    def __init__(self, block, returns_kv):
        super().__init__()
        self.block = block
        self.returns_kv = returns_kv

    def forward(self, x, *rest):
        if self.returns_kv:
            return checkpoint(lambda h: self.block(h, *rest)[0], x, use_reentrant=False), None
        return checkpoint(self.block, x, *rest, use_reentrant=False)


PRESETS = {
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--hf-config", help="a transformers config.json (model_type llama or qwen2); overrides --preset")
    ap.add_argument("--n-layer", type=int)
    ap.add_argument("--n-head", type=int)
    ap.add_argument("--n-embd", type=int)
    ap.add_argument("--vocab-size", type=int)
    ap.add_argument("--n-positions", type=int)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lora-r", type=int, default=0, help="LoRA rank; 0 (default) trains every weight")
    ap.add_argument("--lora-alpha", type=float, default=32.0)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--lora-target-modules", default="q_proj,v_proj", help="comma-separated module names or all-linear (GPT-2: c_attn, ...)")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--base-dtype", choices=["float32", "bfloat16"], default="float32", help="with --lora-r: the frozen linear weights' storage")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    hp = dict(PRESETS[args.preset]) if args.preset else dict(n_layer=12, n_head=12, n_embd=768,
                                                             vocab_size=50257, n_positions=1024)
    for k in ("n_layer", "n_head", "n_embd", "vocab_size", "n_positions"):
        v = getattr(args, k)
        if v is not None:
            hp[k] = v
    hp["n_positions"] = max(hp["n_positions"], args.seq_len) if args.n_positions is None else hp["n_positions"]
    assert args.seq_len <= hp["n_positions"], "seq-len exceeds n_positions"
    if args.hf_config:
        with open(args.hf_config) as f:
            lcfg = llama_torch.LlamaConfig.from_hf_dict(json.load(f))
        model = llama_torch.LlamaForCausalLM(lcfg)
        llama_torch.init_random(model, torch.Generator().manual_seed(args.seed), lcfg.initializer_range)
        mask = torch.ones(args.batch_size, args.seq_len, dtype=torch.long)
        positions = llama_torch.positions_from_mask(mask)
        forward = lambda ids: model(ids, mask, positions)  # noqa: E731
        cfg = GPT2Config(n_layer=lcfg.num_hidden_layers, n_head=lcfg.num_attention_heads, n_embd=lcfg.hidden_size,
                         vocab_size=lcfg.vocab_size, n_positions=max(lcfg.max_position_embeddings, args.seq_len))
    else:
        cfg = GPT2Config(**hp)
        model = GPT2LMHead(cfg)
        init_hf_like(model, torch.Generator().manual_seed(args.seed), randomize_bias_and_ln=False)
        forward = model
    blocks = model.model.layers if args.hf_config else model.transformer.h
    if args.gradient_checkpointing:
        for i in range(len(blocks)):
            blocks[i] = Checkpointed(blocks[i], returns_kv=bool(args.hf_config))
    adapted = []
    if args.lora_r > 0:
        targets = [t.strip() for t in args.lora_target_modules.split(",") if t.strip()]
        adapted = attach_lora(model, targets, args.lora_r, args.lora_alpha, args.lora_dropout)
    elif args.base_dtype != "float32":
        sys.exit("--base-dtype bfloat16 needs --lora-r (only frozen weights are stored in bfloat16)")
    model.train()
    n_params = count_params(model)
    if args.base_dtype == "bfloat16":
        pack_base_bf16(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    leaves = sorted({path.split(".")[-1] for path in adapted})
    setup = ", ".join(filter(None, [
        f"LoRA r={args.lora_r} α={args.lora_alpha:g} dropout {args.lora_dropout:g} on {','.join(leaves)}, {'bf16' if args.base_dtype == 'bfloat16' else 'fp32'} base" if adapted else "full fine-tuning",
        "gradient checkpointing" if args.gradient_checkpointing else None,
    ]))

    gen = torch.Generator().manual_seed(args.seed + 1)
    data = torch.randint(0, cfg.vocab_size, (args.batch_size, args.seq_len + 1), generator=gen)
    x, y = data[:, :-1].contiguous(), data[:, 1:].contiguous()

    def step():
        logits = forward(x)
        loss = F.cross_entropy(logits.view(-1, cfg.vocab_size), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(args.warmup):
        step()
    times, losses = [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)

    ms = 1000.0 * sum(times) / len(times)
    tokens = args.batch_size * args.seq_len
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "framework": "pytorch",
        "model_type": lcfg.model_type if args.hf_config else "gpt2",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "ms_per_step": round(ms, 2),
        "tokens_per_s": round(tokens / (ms / 1000.0), 2),
        "median_ms_per_step": round(1000.0 * statistics.median(times), 2),
        "median_tokens_per_s": round(tokens / statistics.median(times), 2),
        "peak_rss_mib": round(peak_kib / 1024.0, 1),
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "params": n_params,
        "setup": setup,
        "trainable_params": sum(p.numel() for p in trainable),
        "lora_r": args.lora_r if adapted else None,
        "lora_modules": len(adapted),
        "gradient_checkpointing": args.gradient_checkpointing,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
        "vocab_size": cfg.vocab_size, "n_positions": cfg.n_positions,
        "steps": args.steps, "warmup": args.warmup,
        "step_ms": [round(1000.0 * t, 2) for t in times],
        "losses": [round(l, 5) for l in losses],
    }))


if __name__ == "__main__":
    main()
