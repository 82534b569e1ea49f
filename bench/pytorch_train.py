#!/usr/bin/python3
"""PyTorch reference benchmark: one training step of GPT-2 or (--hf-config) a Llama/Qwen2, fp32 on CPU.

Run the fair reference as (OPENBLAS_CORETYPE=Haswell roughly halves PyTorch's speed here):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/pytorch_train.py \
      --preset gpt2 --batch-size 4 --seq-len 256 --steps 2
  ... bench/pytorch_train.py --hf-config MODEL_FOLDER/config.json --batch-size 4 --seq-len 256
(--hf-config: model_type llama or qwen2 through tools/reference/llama_torch.py, transformers' eager attention.)

Each step: forward on random token ids (fixed seed), mean cross-entropy over all positions
(next-token targets), backward, AdamW step (lr 1e-4), zero_grad(set_to_none=True).
Model code: tools/reference/gpt2_torch.py (plain PyTorch 1.13, explicit softmax attention,
no torch.compile). Prints one JSON line at the end.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
from gpt2_torch import GPT2Config, GPT2LMHead, init_hf_like, count_params  # noqa: E402
import llama_torch  # noqa: E402

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
    model.train()
    n_params = count_params(model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

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
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
        "vocab_size": cfg.vocab_size, "n_positions": cfg.n_positions,
        "steps": args.steps, "warmup": args.warmup,
        "step_ms": [round(1000.0 * t, 2) for t in times],
        "losses": [round(l, 5) for l in losses],
    }))


if __name__ == "__main__":
    main()
