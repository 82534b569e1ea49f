#!/usr/bin/python3
"""Greedy-generation fixture for Rlhf.NET: an independent PyTorch GPT-2 (gpt2_torch.py) continues a few
prompts token by token WITHOUT a KV cache (full recomputation each step, float64), so the C# cached,
batched generator can be checked against it.

Writes tests/fixtures/gpt2_generate/: config.json, model.safetensors (a tiny random GPT-2 with larger
weights than HF's init so the next-token distribution is sharp and greedy choices are far from ties),
generate.json (prompts, greedy ids, their log-probs, and the smallest top-1/top-2 logit margin seen).

    /usr/bin/python3 tools/reference/gpt2_generate_fixture.py
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import GPT2Config, GPT2LMHead, init_hf_like  # noqa: E402
from gpt2_fixture import write_safetensors, REPO_ROOT  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", default=os.path.join(REPO_ROOT, "tests", "fixtures", "gpt2_generate"))
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--new-tokens", type=int, default=12)
    args = ap.parse_args()
    os.makedirs(args.output, exist_ok=True)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)

    eos = 60
    cfg = GPT2Config(vocab_size=61, n_positions=48, n_embd=32, n_layer=2, n_head=4,
                     layer_norm_epsilon=1e-5, initializer_range=0.25)
    model = GPT2LMHead(cfg)
    init_hf_like(model, gen, randomize_bias_and_ln=True)
    model.eval()

    state = {name: p.detach().clone() for name, p in model.named_parameters()}
    write_safetensors(os.path.join(args.output, "model.safetensors"), state)
    with open(os.path.join(args.output, "config.json"), "w") as f:
        json.dump(cfg.to_hf_dict(bos_token_id=eos, eos_token_id=eos), f, indent=2)

    model64 = model.double()
    prompts = [[5, 17, 33], [40, 2, 9, 9, 11, 58, 23], [1]]
    results = []
    min_margin = float("inf")
    with torch.no_grad():
        for prompt in prompts:
            ids = list(prompt)
            out, logps = [], []
            for _ in range(args.new_tokens):
                logits = model64(torch.tensor([ids]))[0, -1]
                top2 = torch.topk(logits, 2).values
                min_margin = min(min_margin, float(top2[0] - top2[1]))
                token = int(torch.argmax(logits))
                logps.append(float(torch.log_softmax(logits, -1)[token]))
                out.append(token)
                ids.append(token)
                if token == eos:
                    break
            results.append({"prompt": prompt, "ids": out, "logprobs": logps})
    with open(os.path.join(args.output, "generate.json"), "w") as f:
        json.dump({"generator": "tools/reference/gpt2_generate_fixture.py", "seed": args.seed,
                   "eos_token_id": eos, "max_new_tokens": args.new_tokens,
                   "min_top2_margin": min_margin, "results": results}, f, indent=1)
    print(json.dumps({"min_top2_margin": min_margin, "results": results}))


if __name__ == "__main__":
    main()
