#!/usr/bin/python3
"""Generate the independent PyTorch reference fixture for Rlhf.NET's GPT-2.

Regenerate with:   /usr/bin/python3 tools/reference/gpt2_fixture.py
(needs Debian's python3-torch; no transformers / safetensors packages required).

Outputs (in --output, default tests/fixtures/gpt2_tiny):
  config.json          HF-style GPT-2 config
  model.safetensors    initial float32 weights, HF names with `transformer.` prefix (no lm_head: tied)
  expected.safetensors float32: `logits` [B,T,V], `grad.<param>` (d loss / d param),
                       `adamw.<param>` (parameters after the 5 clipped AdamW steps)
  fixture.json         inputs, loss, AdamW/clipping hyper-parameters and trajectory

The weights are float32; the reference forward/backward/AdamW is computed in float64 from
those float32 weights and the results are rounded to float32 for storage (a float32
implementation should match to ~1e-5 relative).
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import make_batch, read_safetensors, write_safetensors  # noqa: E402
from gpt2_torch import GPT2Config, GPT2LMHead, init_hf_like, lm_loss, gelu_new  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def forward_loss(model, batch):
    input_ids, attention_mask, position_ids, labels = batch
    logits = model(input_ids, attention_mask=attention_mask, position_ids=position_ids)
    return logits, lm_loss(logits, labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", default=os.path.join(REPO_ROOT, "tests", "fixtures", "gpt2_tiny"))
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    os.makedirs(args.output, exist_ok=True)

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)

    cfg = GPT2Config(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                     layer_norm_epsilon=1e-5, initializer_range=0.02)

    # ---- initial float32 weights ----
    model32 = GPT2LMHead(cfg)
    init_hf_like(model32, gen, randomize_bias_and_ln=True)
    init_state = {n: p.detach().clone() for n, p in model32.named_parameters()}
    batch = make_batch(cfg, gen)

    # sanity: F.gelu(approximate="tanh") is exactly HF gelu_new
    xs = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    assert torch.allclose(torch.nn.functional.gelu(xs, approximate="tanh"), gelu_new(xs), atol=1e-14)

    # ---- float64 reference from the float32 weights ----
    model = GPT2LMHead(cfg).double()
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(init_state[n].double())
    params = dict(model.named_parameters())

    logits, loss = forward_loss(model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in params.items()}
    grad_norm0 = torch.norm(torch.stack([g.norm(2) for g in grads.values()]), 2).item()

    # float32 forward for information (how far an fp32 implementation is expected to be)
    with torch.no_grad():
        logits32, loss32 = forward_loss(model32, batch)
    valid = batch[1].bool()
    fp32_logit_maxdiff = (logits32.double() - logits)[valid].abs().max().item()

    # ---- AdamW trajectory (float64), decay only on 2-D params, with grad-norm clipping ----
    lr, betas, eps, wd, n_steps = 1e-2, (0.9, 0.999), 1e-8, 0.1, 5
    max_grad_norm = 0.5 * grad_norm0
    model.zero_grad(set_to_none=True)
    decay = [p for n, p in params.items() if p.dim() == 2]
    no_decay = [p for n, p in params.items() if p.dim() != 2]
    decay_names = [n for n, p in params.items() if p.dim() == 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=betas, eps=eps, weight_decay=wd)
    adamw_losses, grad_norms = [], []
    for _ in range(n_steps):
        opt.zero_grad(set_to_none=True)
        _, l = forward_loss(model, batch)
        l.backward()
        adamw_losses.append(l.item())
        tn = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_grad_norm, norm_type=2.0)
        grad_norms.append(tn.item())
        opt.step()
    with torch.no_grad():
        _, lf = forward_loss(model, batch)
    final_loss = lf.item()
    final_state = {n: p.detach().clone() for n, p in params.items()}

    # ---- write files ----
    with open(os.path.join(args.output, "config.json"), "w") as f:
        json.dump(cfg.to_hf_dict(bos_token_id=96, eos_token_id=96), f, indent=2)
        f.write("\n")

    write_safetensors(os.path.join(args.output, "model.safetensors"), init_state)
    expected = {"logits": logits}
    expected.update({"grad." + n: g for n, g in grads.items()})
    expected.update({"adamw." + n: p for n, p in final_state.items()})
    write_safetensors(os.path.join(args.output, "expected.safetensors"), expected)

    input_ids, attention_mask, position_ids, labels = batch
    fixture = {
        "description": "Independent plain-PyTorch GPT-2 reference (tools/reference/gpt2_fixture.py). "
                       "Weights are float32 (model.safetensors); logits/loss/grads/AdamW are computed in "
                       "float64 from them and stored rounded to float32.",
        "generator": {"script": "tools/reference/gpt2_fixture.py", "seed": args.seed,
                      "torch_version": torch.__version__},
        "init": {"weights": "N(0,0.02) for wte, wpe, c_attn.weight, c_fc.weight; "
                            "N(0,0.02/sqrt(2*n_layer)) for attn.c_proj.weight and mlp.c_proj.weight",
                 "biases": "N(0,0.02) (HF would use zeros; randomised so bias grads are meaningful)",
                 "layer_norm": "weight 1+N(0,0.1), bias N(0,0.02) (HF: 1 and 0)"},
        "batch_size": int(input_ids.shape[0]),
        "seq_len": int(input_ids.shape[1]),
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "position_ids": position_ids.tolist(),
        "labels": labels.tolist(),
        "position_ids_rule": "clamp(cumsum(attention_mask, -1) - 1, min=0)",
        "labels_rule": "input_ids with -100 at attention_mask==0 and at the first 4 real tokens of each row",
        "loss": loss.item(),
        "loss_fp32_forward": loss32.item(),
        "loss_rule": "mean over non-ignored positions of cross_entropy(logits[:, :-1], labels[:, 1:]), ignore_index=-100",
        "attention_masking": "scores masked_fill(finfo.min) where key is in the future or attention_mask[key]==0, then softmax. "
                             "Logits at padding query positions (attention_mask==0) are implementation-defined "
                             "(fully masked rows); compare logits only where attention_mask==1. They never affect loss/grads.",
        "logits_compare_mask": "attention_mask",
        "fp32_vs_fp64_max_abs_logit_diff": fp32_logit_maxdiff,
        "grad_norm": grad_norm0,
        "expected_tensors": {"logits": list(logits.shape),
                             "grad.<param>": "d loss / d param for every parameter in model.safetensors",
                             "adamw.<param>": "parameters after the 5 AdamW steps below"},
        "adamw": {
            "optimizer": "torch.optim.AdamW (decoupled weight decay: p -= lr*wd*p, then "
                         "p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps))",
            "lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps, "weight_decay": wd,
            "amsgrad": False,
            "weight_decay_params": "2-D parameters only (wte, wpe, all Conv1D weights); biases and LayerNorm get 0",
            "decay_param_names": decay_names,
            "steps": n_steps,
            "same_batch_every_step": True,
            "clip": "torch.nn.utils.clip_grad_norm_(all params, max_norm, norm_type=2) before each step: "
                    "total = ||all grads||_2; grads *= min(1, max_norm/(total+1e-6))",
            "max_grad_norm": max_grad_norm,
            "grad_norms": grad_norms,
            "adamw_losses": adamw_losses,
            "final_loss": final_loss,
        },
        # top-level copies for convenience
        "max_grad_norm": max_grad_norm,
        "grad_norms": grad_norms,
        "adamw_losses": adamw_losses,
        "final_loss": final_loss,
    }
    with open(os.path.join(args.output, "fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")

    # ---- self-check the writer ----
    back = read_safetensors(os.path.join(args.output, "model.safetensors"))
    assert set(back) == set(init_state)
    for n, t in init_state.items():
        assert torch.equal(back[n], t), n
    back = read_safetensors(os.path.join(args.output, "expected.safetensors"))
    assert torch.equal(back["logits"], logits.float())

    print(json.dumps({"output": args.output, "loss": loss.item(), "loss_fp32": loss32.item(),
                      "grad_norm": grad_norm0, "max_grad_norm": max_grad_norm, "grad_norms": grad_norms,
                      "adamw_losses": adamw_losses, "final_loss": final_loss,
                      "fp32_vs_fp64_max_abs_logit_diff": fp32_logit_maxdiff,
                      "n_params": sum(t.numel() for t in init_state.values())}, indent=1))


if __name__ == "__main__":
    main()
