#!/usr/bin/python3
"""Generate the independent PyTorch reference fixtures for Rlhf.NET's Llama / Qwen2 families.

Regenerate with:   /usr/bin/python3 tools/reference/llama_fixture.py
(needs Debian's python3-torch; no transformers / safetensors packages required).

Writes one folder per case under --output (default tests/fixtures), each holding
  config.json            transformers-format config (model_type llama or qwen2)
  model.safetensors      initial weights with transformers' names (F32, or BF16 for the bf16 case), or, for the
                         sharded case, model-0000K-of-0000N.safetensors + model.safetensors.index.json
  expected.safetensors   float32: `logits` [B,T,V], `grad.<param>`, `adamw.<param>` (after 5 clipped AdamW steps)
  fixture.json           inputs, loss, AdamW/clipping hyper-parameters and trajectory, greedy generation
The reference forward/backward/AdamW/generation runs in float64 from the stored weights (bf16 weights widened
exactly); rotary cos/sin are computed in float32 as transformers does, then widened.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import make_batch, read_safetensors, write_safetensors  # noqa: E402
from llama_torch import LlamaConfig, LlamaForCausalLM, init_random, lm_loss, positions_from_mask  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

CASES = {
    # GQA 4:2, untied lm_head.weight, written as three shards with an index (transformers' shard names).
    "llama_gqa_sharded": dict(
        cfg=LlamaConfig(model_type="llama", vocab_size=97, hidden_size=32, intermediate_size=44, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                        tie_word_embeddings=False, initializer_range=0.1),
        dtype="F32", max_shard_bytes=40_000),
    # Tied head, llama3 rope scaling (kept, blended and divided frequencies at head_dim 16), explicit head_dim
    # (q_proj [H*D, C] with H*D != C), attention_bias and mlp_bias, multi-query attention 4:1.
    "llama3_tied": dict(
        cfg=LlamaConfig(model_type="llama", vocab_size=97, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=1, head_dim=16, rms_norm_eps=1e-6,
                        rope_theta=500000.0,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 256},
                        attention_bias=True, mlp_bias=True, tie_word_embeddings=True, initializer_range=0.1),
        dtype="F32", max_shard_bytes=None),
    # Qwen2: q/k/v biases (no o_proj/mlp bias), tied, GQA 6:2, bf16 weights as on the Hub.
    "qwen2_bf16": dict(
        cfg=LlamaConfig(model_type="qwen2", vocab_size=97, hidden_size=36, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1000000.0,
                        tie_word_embeddings=True, initializer_range=0.1, torch_dtype="bfloat16"),
        dtype="BF16", max_shard_bytes=None),
}


def write_sharded(folder, state, dtype, max_shard_bytes):
    """Shards in state-dict order, a new shard whenever the next tensor would pass max_shard_bytes (huggingface_hub's
    split_torch_state_dict_into_shards), named model-0000K-of-0000N.safetensors, with model.safetensors.index.json."""
    shards, current, size = [], {}, 0
    element = 4 if dtype == "F32" else 2
    for name, t in state.items():
        nbytes = t.numel() * element
        if current and size + nbytes > max_shard_bytes:
            shards.append(current)
            current, size = {}, 0
        current[name] = t
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(folder, file), shard, dtype)
        for name, t in shard.items():
            weight_map[name] = file
            total += t.numel() * element
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")
    return [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]


def greedy(model, prompt_ids, prompt_mask, new_tokens):
    """Greedy decoding by full recomputation each step (no cache): the next token is argmax of the last position's
    logits; positions from the mask, so left padding does not shift them. Returns tokens [B, n] and, per row, the
    smallest gap between the best and second-best logit (how safe the argmax is for an fp32 implementation)."""
    ids, mask = prompt_ids.clone(), prompt_mask.clone()
    out, gaps = [], [math.inf] * ids.shape[0]
    with torch.no_grad():
        for _ in range(new_tokens):
            logits = model(ids, mask, positions_from_mask(mask))[:, -1]
            top = logits.topk(2, dim=-1)
            for b in range(ids.shape[0]):
                gaps[b] = min(gaps[b], (top.values[b, 0] - top.values[b, 1]).item())
            nxt = top.indices[:, 0]
            out.append(nxt)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return torch.stack(out, dim=1), gaps


def greedy_cached(model, prompt_ids, prompt_mask, new_tokens):
    """The same decoding through the model's KV cache (a cross-check of the reference itself)."""
    mask = prompt_mask.clone()
    positions = positions_from_mask(mask)
    out = []
    with torch.no_grad():
        logits, pasts = model(prompt_ids, mask, positions, return_pasts=True)
        for _ in range(new_tokens):
            nxt = logits[:, -1].argmax(-1)
            out.append(nxt)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions[:, -1:] + 1
            logits, pasts = model(nxt[:, None], mask, positions, pasts, return_pasts=True)
    return torch.stack(out, dim=1)


def make_case(name, spec, out_root, seed):
    cfg, dtype = spec["cfg"], spec["dtype"]
    folder = os.path.join(out_root, name)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        if old.endswith(".safetensors") or old.endswith(".json"):
            os.remove(os.path.join(folder, old))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    model32 = LlamaForCausalLM(cfg)
    init_random(model32, gen, cfg.initializer_range)
    # the stored weights (bf16-rounded for the BF16 case) are the ground truth
    init_state = {n: (p.detach().to(torch.bfloat16).float() if dtype == "BF16" else p.detach().clone())
                  for n, p in model32.named_parameters()}
    batch = make_batch(cfg, gen)

    model = LlamaForCausalLM(cfg).double()
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(init_state[n].double())
    params = dict(model.named_parameters())

    input_ids, attention_mask, position_ids, labels = batch
    logits = model(input_ids, attention_mask, position_ids)
    loss = lm_loss(logits, labels)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in params.items()}
    grad_norm0 = torch.norm(torch.stack([g.norm(2) for g in grads.values()]), 2).item()

    # greedy generation from two left-padded prompts (lengths 6 and 3), 8 new tokens
    # (prompts are redrawn, at most 20 times, until every argmax wins by at least 2e-3, so an fp32 implementation
    # cannot flip a near-tie)
    for attempt in range(20):
        prompt_ids = torch.randint(0, cfg.vocab_size, (2, 6), generator=gen)
        prompt_mask = torch.ones(2, 6, dtype=torch.long)
        prompt_mask[1, :3] = 0
        prompt_ids[1, :3] = 0  # pad id 0
        gen_tokens, gen_gaps = greedy(model, prompt_ids, prompt_mask, 8)
        if min(gen_gaps) >= 2e-3:
            break
    assert min(gen_gaps) >= 2e-3, gen_gaps
    assert torch.equal(greedy_cached(model, prompt_ids, prompt_mask, 8), gen_tokens)

    # AdamW trajectory (float64): as the GPT-2 fixture, decay on 2-D params only, clipping at half the first norm
    lr, betas, eps, wd, n_steps = 1e-2, (0.9, 0.999), 1e-8, 0.1, 5
    max_grad_norm = 0.5 * grad_norm0
    model.zero_grad(set_to_none=True)
    decay = [p for p in params.values() if p.dim() == 2]
    no_decay = [p for p in params.values() if p.dim() != 2]
    decay_names = [n for n, p in params.items() if p.dim() == 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=betas, eps=eps, weight_decay=wd)
    adamw_losses, grad_norms = [], []
    for _ in range(n_steps):
        opt.zero_grad(set_to_none=True)
        l = lm_loss(model(input_ids, attention_mask, position_ids), labels)
        l.backward()
        adamw_losses.append(l.item())
        grad_norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_grad_norm, norm_type=2.0).item())
        opt.step()
    with torch.no_grad():
        final_loss = lm_loss(model(input_ids, attention_mask, position_ids), labels).item()
    final_state = {n: p.detach().clone() for n, p in params.items()}

    # ---- write ----
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg.to_hf_dict(), f, indent=2)
        f.write("\n")
    if spec["max_shard_bytes"]:
        weight_files = write_sharded(folder, init_state, dtype, spec["max_shard_bytes"])
    else:
        weight_files = ["model.safetensors"]
        write_safetensors(os.path.join(folder, "model.safetensors"), init_state, dtype)
    expected = {"logits": logits.detach()}
    expected.update({"grad." + n: g for n, g in grads.items()})
    expected.update({"adamw." + n: p for n, p in final_state.items()})
    write_safetensors(os.path.join(folder, "expected.safetensors"), expected, "F32")

    fixture = {
        "description": f"Independent plain-PyTorch {cfg.model_type} reference (tools/reference/llama_fixture.py, case {name}). "
                       "Weights as stored in the checkpoint; logits/loss/grads/AdamW/generation computed in float64 from "
                       "them (rotary cos/sin in float32 as transformers) and stored rounded to float32.",
        "generator": {"script": "tools/reference/llama_fixture.py", "case": name, "seed": seed,
                      "torch_version": torch.__version__},
        "weights_dtype": dtype,
        "weight_files": weight_files,
        "max_shard_bytes": spec["max_shard_bytes"],
        "init": "N(0, initializer_range) for embeddings and every Linear weight; biases N(0,0.02); "
                "RMSNorm weights 1+N(0,0.1) (transformers: 0 and 1; randomised so their gradients are exercised)",
        "batch_size": int(input_ids.shape[0]),
        "seq_len": int(input_ids.shape[1]),
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "position_ids": position_ids.tolist(),
        "labels": labels.tolist(),
        "position_ids_rule": "clamp(cumsum(attention_mask, -1) - 1, min=0)",
        "labels_rule": "input_ids with -100 at attention_mask==0 and at the first 4 real tokens of each row",
        "loss": loss.item(),
        "loss_rule": "mean over non-ignored positions of cross_entropy(logits[:, :-1], labels[:, 1:]), ignore_index=-100",
        "attention_masking": "scores + finfo.min where the key is in the future or attention_mask[key]==0, then softmax. "
                             "Logits at padding query positions are implementation-defined; compare only where attention_mask==1.",
        "logits_compare_mask": "attention_mask",
        "grad_norm": grad_norm0,
        "adamw": {
            "optimizer": "torch.optim.AdamW (decoupled weight decay)", "lr": lr, "beta1": betas[0], "beta2": betas[1],
            "eps": eps, "weight_decay": wd, "amsgrad": False,
            "weight_decay_params": "2-D parameters only (embeddings, every Linear weight); biases and RMSNorm weights get 0",
            "decay_param_names": decay_names, "steps": n_steps, "same_batch_every_step": True,
            "clip": "clip_grad_norm_(all params, max_norm, 2) before each step",
            "max_grad_norm": max_grad_norm, "grad_norms": grad_norms, "adamw_losses": adamw_losses, "final_loss": final_loss,
        },
        "max_grad_norm": max_grad_norm,
        "grad_norms": grad_norms,
        "adamw_losses": adamw_losses,
        "final_loss": final_loss,
        "generation": {
            "prompt_ids": prompt_ids.tolist(),
            "prompt_mask": prompt_mask.tolist(),
            "new_tokens": 8,
            "rule": "greedy argmax of the last position, no stopping; positions clamp(cumsum(mask)-1, 0); "
                    "row 1 is left-padded by 3 (pad id 0)",
            "tokens": gen_tokens.tolist(),
            "min_top2_gap": gen_gaps,
        },
    }
    with open(os.path.join(folder, "fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")

    # ---- self-check the writer ----
    back = {}
    for file in weight_files:
        back.update(read_safetensors(os.path.join(folder, file)))
    assert set(back) == set(init_state), (set(back) ^ set(init_state))
    for n, t in init_state.items():
        assert torch.equal(back[n], t.float()), n
    assert torch.equal(read_safetensors(os.path.join(folder, "expected.safetensors"))["logits"], logits.detach().float())
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    return {"case": name, "loss": loss.item(), "final_loss": final_loss, "grad_norm": grad_norm0,
            "generation": gen_tokens.tolist(), "min_top2_gap": gen_gaps, "bytes": size,
            "n_params": sum(t.numel() for t in init_state.values())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", default=os.path.join(REPO_ROOT, "tests", "fixtures"))
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--case", choices=sorted(CASES), action="append", help="only these cases (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name in args.case or CASES:
        print(json.dumps(make_case(name, CASES[name], args.output, args.seed)))


if __name__ == "__main__":
    main()
