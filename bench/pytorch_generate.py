#!/usr/bin/python3
"""PyTorch reference benchmark: batched greedy decoding with a KV cache, fp32 on CPU.

Run the fair reference as (OPENBLAS_CORETYPE=Haswell roughly halves PyTorch's speed here):
  env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/pytorch_generate.py \
      --preset gpt2 --batch-size 1 --prompt-len 32 --new-tokens 64

Model: tools/reference/gpt2_torch.py weights; the cached decode loop below is the standard one
(past keys/values concatenated per layer, as transformers' GPT2 does). --hf-config CONFIG.json runs a
Llama/Qwen2 instead (tools/reference/llama_torch.py, its KV cache). Prints one JSON line:
decode tokens/s = batch × new tokens / decode time (the prompt's prefill is timed separately).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
from gpt2_torch import GPT2Config, GPT2LMHead, init_hf_like  # noqa: E402
import llama_torch  # noqa: E402


def block_forward(block, x, past, positions_mask):
    """One pre-LN block on new tokens x [B, n, C], attending to past (k, v) plus themselves."""
    attn = block.attn
    B, n, C = x.shape
    nh, hs = attn.n_head, C // attn.n_head
    q, k, v = attn.c_attn(block.ln_1(x)).split(C, dim=2)
    q = q.view(B, n, nh, hs).transpose(1, 2)
    k = k.view(B, n, nh, hs).transpose(1, 2)
    v = v.view(B, n, nh, hs).transpose(1, 2)
    if past is not None:
        k = torch.cat([past[0], k], dim=2)
        v = torch.cat([past[1], v], dim=2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
    L = k.shape[2]
    causal = torch.ones(n, L, dtype=torch.bool).tril(L - n)
    att = att.masked_fill(~causal, torch.finfo(att.dtype).min)
    y = torch.softmax(att, dim=-1) @ v
    x = x + attn.c_proj(y.transpose(1, 2).reshape(B, n, C))
    x = x + block.mlp(block.ln_2(x))
    return x, (k, v)


def forward(model, ids, start, pasts):
    tr = model.transformer
    B, n = ids.shape
    pos = torch.arange(start, start + n).unsqueeze(0).expand(B, n)
    x = tr.wte(ids) + tr.wpe(pos)
    new = []
    for i, block in enumerate(tr.h):
        x, kv = block_forward(block, x, pasts[i] if pasts else None, None)
        new.append(kv)
    h = tr.ln_f(x[:, -1])
    return F.linear(h, tr.wte.weight), new


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=["gpt2"])
    ap.add_argument("--hf-config", help="a transformers config.json (model_type llama or qwen2) instead of GPT-2")
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--n-head", type=int, default=12)
    ap.add_argument("--n-embd", type=int, default=768)
    ap.add_argument("--vocab-size", type=int, default=50257)
    ap.add_argument("--n-positions", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3, help="timed generations; the fastest is reported")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="model precision")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    global forward
    if args.hf_config:
        with open(args.hf_config) as f:
            lcfg = llama_torch.LlamaConfig.from_hf_dict(json.load(f))
        model = llama_torch.LlamaForCausalLM(lcfg)
        llama_torch.init_random(model, torch.Generator().manual_seed(args.seed), lcfg.initializer_range)
        cfg = lcfg

        def forward(model, ids, start, pasts):  # noqa: F811 - the Llama/Qwen2 step replaces GPT-2's
            B, n = ids.shape
            mask = torch.ones(B, start + n, dtype=torch.long)
            positions = torch.arange(start, start + n).unsqueeze(0).expand(B, n)
            logits, new = model(ids, mask, positions, pasts, return_pasts=True)
            return logits[:, -1], new
    else:
        cfg = GPT2Config(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                         vocab_size=args.vocab_size, n_positions=args.n_positions)
        model = GPT2LMHead(cfg)
        init_hf_like(model, torch.Generator().manual_seed(args.seed), randomize_bias_and_ln=False)
    model.eval()
    if args.dtype == "bfloat16":
        model = model.to(torch.bfloat16)  # PyTorch's bf16: weights and activations (ours keeps fp32 activations)
    ids = torch.randint(0, cfg.vocab_size, (args.batch_size, args.prompt_len), generator=torch.Generator().manual_seed(1))
    prefill_s, decode_s = float("inf"), float("inf")
    with torch.no_grad():
        forward(model, ids, 0, None)  # warm-up
        for _ in range(args.runs):  # the best run of each phase, as rlhf bench generate reports
            t0 = time.perf_counter()
            logits, pasts = forward(model, ids, 0, None)
            t1 = time.perf_counter()
            token = logits.argmax(-1, keepdim=True)
            for step in range(args.new_tokens - 1):
                logits, pasts = forward(model, token, args.prompt_len + step, pasts)
                token = logits.argmax(-1, keepdim=True)
            t2 = time.perf_counter()
            prefill_s, decode_s = min(prefill_s, t1 - t0), min(decode_s, t2 - t1)
    decode_tokens = args.batch_size * (args.new_tokens - 1)
    print(json.dumps({"framework": "pytorch", "model_type": getattr(cfg, "model_type", "gpt2"), "batch_size": args.batch_size, "prompt_len": args.prompt_len,
                      "new_tokens": args.new_tokens, "runs": args.runs, "dtype": args.dtype, "prefill_ms": prefill_s * 1000,
                      "decode_ms": decode_s * 1000, "tokens_per_s": decode_tokens / decode_s}))


if __name__ == "__main__":
    main()
