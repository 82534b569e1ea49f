#!/usr/bin/python3
"""Independent PyTorch reference for Rlhf.NET's LoRA adapters and PEFT adapter folders.

Regenerate with:   /usr/bin/python3 tools/reference/peft_lora_fixture.py
(needs Debian's python3-torch; peft, transformers and safetensors are NOT needed or used).

For each base fixture (tests/fixtures/gpt2_tiny, tests/fixtures/llama3_tied) writes tests/fixtures/lora_<base>/ with
  adapter_config.json         PEFT LoraConfig fields (peft_type LORA, r, lora_alpha, target_modules, fan_in_fan_out, ...)
  adapter_model.safetensors   PEFT's keys: base_model.model.<module path>.lora_A.weight [r, in], .lora_B.weight [out, r]
  expected.safetensors        float32 `logits` [B, T, V] of the adapted model on the base fixture's batch, and
                              `merged.<weight>`: every adapted weight after merging, W + (alpha/r) * B @ A
                              (transposed for GPT-2's Conv1D [in, out] weights, PEFT's fan_in_fan_out)
  fixture.json                the settings and rules
The adapted forward is written here from the LoRA paper: y = base(x) + (alpha/r) * (x @ A^T) @ B^T (no dropout at
inference), wrapped around the plain models of gpt2_torch.py / llama_torch.py and run in float64.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import read_safetensors, write_safetensors  # noqa: E402
import gpt2_torch  # noqa: E402
import llama_torch  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

CASES = {
    # Every Conv1D (attn.c_attn, attn.c_proj, mlp.c_proj via "c_proj", mlp.c_fc); fan_in_fan_out.
    "gpt2_tiny": dict(targets=["c_attn", "c_proj", "c_fc"], r=4, alpha=12.0, fan_in_fan_out=True),
    # A subset of the Llama projections (q/v attention, the MLP's down projection), with biases present.
    "llama3_tied": dict(targets=["q_proj", "v_proj", "down_proj"], r=3, alpha=6.0, fan_in_fan_out=False),
}


def build(base, folder):
    cfg_json = json.load(open(os.path.join(folder, "config.json")))
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    if base.startswith("gpt2"):
        cfg = gpt2_torch.GPT2Config(vocab_size=cfg_json["vocab_size"], n_positions=cfg_json["n_positions"], n_embd=cfg_json["n_embd"],
                                    n_layer=cfg_json["n_layer"], n_head=cfg_json["n_head"], layer_norm_epsilon=cfg_json["layer_norm_epsilon"])
        model = gpt2_torch.GPT2LMHead(cfg)
    else:
        keys = {k: cfg_json[k] for k in ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                           "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta",
                                           "rope_scaling", "attention_bias", "mlp_bias", "tie_word_embeddings",
                                           "max_position_embeddings", "initializer_range") if k in cfg_json}
        model = llama_torch.LlamaForCausalLM(llama_torch.LlamaConfig(**keys))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not [m for m in missing if "inv_freq" not in m], missing
    assert not unexpected, unexpected
    return model.double()


def linear_modules(model):
    """(path, module, conv1d) for every linear layer except the output head, as PEFT's all-linear sees them."""
    for name, module in model.named_modules():
        if isinstance(module, gpt2_torch.Conv1D):
            yield name, module, True
        elif isinstance(module, torch.nn.Linear) and name != "lm_head":
            yield name, module, False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", default=os.path.join(REPO_ROOT, "tests", "fixtures"))
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    for base, case in CASES.items():
        folder = os.path.join(args.fixtures, base)
        fixture = json.load(open(os.path.join(folder, "fixture.json")))
        model = build(base, folder)
        gen = torch.Generator().manual_seed(args.seed)
        scaling = case["alpha"] / case["r"]
        adapters, merged = {}, {}
        for path, module, conv1d in linear_modules(model):
            if not any(path == t or path.endswith("." + t) for t in case["targets"]):
                continue
            w = module.weight
            n_in, n_out = (w.shape[0], w.shape[1]) if conv1d else (w.shape[1], w.shape[0])
            a = torch.randn(case["r"], n_in, generator=gen, dtype=torch.float64) * 0.3
            b = torch.randn(n_out, case["r"], generator=gen, dtype=torch.float64) * 0.3
            # Stored as float32, so the reference uses exactly the stored values.
            a, b = a.float().double(), b.float().double()
            adapters[f"base_model.model.{path}.lora_A.weight"] = a
            adapters[f"base_model.model.{path}.lora_B.weight"] = b
            delta = scaling * (b @ a)  # [out, in]
            merged[f"merged.{path}.weight"] = w.detach() + (delta.t() if conv1d else delta)

            def adapted(x, base_forward=module.forward, a=a, b=b):
                return base_forward(x) + scaling * ((x @ a.t()) @ b.t())
            module.forward = adapted
        ids = torch.tensor(fixture["input_ids"])
        mask = torch.tensor(fixture["attention_mask"])
        positions = torch.tensor(fixture["position_ids"])
        with torch.no_grad():
            logits = model(ids, mask, positions)
        out = os.path.join(args.fixtures, "lora_" + base)
        os.makedirs(out, exist_ok=True)
        write_safetensors(os.path.join(out, "adapter_model.safetensors"), adapters)
        write_safetensors(os.path.join(out, "expected.safetensors"), {"logits": logits, **merged})
        config = {
            "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base, "bias": "none",
            "fan_in_fan_out": case["fan_in_fan_out"], "inference_mode": True, "init_lora_weights": True,
            "layers_pattern": None, "layers_to_transform": None, "lora_alpha": case["alpha"], "lora_dropout": 0.0,
            "modules_to_save": None, "peft_type": "LORA", "r": case["r"], "rank_pattern": {}, "revision": None,
            "target_modules": sorted(case["targets"]), "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
        }
        json.dump(config, open(os.path.join(out, "adapter_config.json"), "w"), indent=2)
        json.dump({
            "description": "Independent plain-PyTorch LoRA reference (tools/reference/peft_lora_fixture.py) on the base fixture "
                           f"tests/fixtures/{base}: y = base(x) + (lora_alpha/r) * (x @ A^T) @ B^T on every targeted module.",
            "generator": {"script": "tools/reference/peft_lora_fixture.py", "seed": args.seed, "torch_version": torch.__version__},
            "base_fixture": base, "targets": case["targets"], "scaling": scaling,
            "adapted_modules": sorted(k[len("merged."):-len(".weight")] for k in merged),
            "logits_compare_mask": "attention_mask of the base fixture (padding queries are implementation-defined)",
            "merge_rule": "W + scaling * B @ A ([out, in]); transposed onto Conv1D [in, out] weights",
        }, open(os.path.join(out, "fixture.json"), "w"), indent=2)
        print(f"wrote {out}: {len(merged)} adapted modules")


if __name__ == "__main__":
    main()
