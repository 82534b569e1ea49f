#!/usr/bin/python3
"""Independent plain-PyTorch GPT2ForSequenceClassification (transformers' reward-model class) and its fixtures.

transformers' pooling (modeling_gpt2.GPT2ForSequenceClassification.forward), restated:
    logits = score(h)                                  # nn.Linear(n_embd, num_labels, bias=False), weight [1, C]
    pad_token_id None: batch size must be 1, the last position is read
    else:              last = (arange(T) * (input_ids != pad_token_id)).argmax(-1)   # last id that is not the pad id
    reward = logits[b, last[b]]
Positions are arange(T) (transformers' default without position_ids), so batches are right-padded, as the textbook's
`tokenizer(texts, padding=True)` does. Computed in float64 from the float32 weights.

Modes:
    /usr/bin/python3 tools/reference/gpt2_reward_fixture.py
        writes tests/fixtures/gpt2_reward/ (config.json, model.safetensors: a random tiny reward model with pad = eos,
        expected.json: right-padded batches with and without a trailing EOS, an EOS mid-text, a single sequence)
    /usr/bin/python3 tools/reference/gpt2_reward_fixture.py --score FOLDER
        scores FOLDER's reward model (e.g. one `rlhf reward` trained) on the batches in FOLDER/inputs.json
        ({"batches": [{"input_ids": [[...]], "attention_mask": [[...]]}]}) and writes FOLDER/expected.json
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import GPT2Config, GPT2LMHead, GPT2Model, init_hf_like  # noqa: E402
from gpt2_fixture import read_safetensors, write_safetensors  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class GPT2ForSequenceClassification(nn.Module):
    """transformer.* as GPT2Model, score = Linear(n_embd, 1, bias=False)."""

    def __init__(self, cfg: GPT2Config, pad_token_id):
        super().__init__()
        self.transformer = GPT2Model(cfg)
        self.score = nn.Linear(cfg.n_embd, 1, bias=False)
        self.pad_token_id = pad_token_id

    def forward(self, input_ids, attention_mask=None):
        B, T = input_ids.shape
        position_ids = torch.arange(T).unsqueeze(0).expand(B, T)
        logits = self.score(self.transformer(input_ids, attention_mask, position_ids))  # [B, T, 1]
        if self.pad_token_id is None:
            if B != 1:
                raise ValueError("Cannot handle batch sizes > 1 if no padding token is defined.")
            last = torch.full((B,), T - 1, dtype=torch.long)
        else:
            non_pad = (input_ids != self.pad_token_id).long()
            last = (torch.arange(T) * non_pad).argmax(-1)
        return logits[torch.arange(B), last, 0], last


def load_folder(folder):
    with open(os.path.join(folder, "config.json")) as f:
        hf = json.load(f)
    cfg = GPT2Config(vocab_size=hf["vocab_size"], n_positions=hf["n_positions"], n_embd=hf["n_embd"],
                     n_layer=hf["n_layer"], n_head=hf["n_head"], layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-5))
    model = GPT2ForSequenceClassification(cfg, hf.get("pad_token_id")).double()
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    names = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in names.items():
            key = name if name in state else name[len("transformer."):]  # names with or without the prefix
            p.copy_(state[key].double())
    return model


def right_pad(rows, pad):
    T = max(len(r) for r in rows)
    ids = [r + [pad] * (T - len(r)) for r in rows]
    mask = [[1] * len(r) + [0] * (T - len(r)) for r in rows]
    return ids, mask


def score_batches(model, batches):
    out = []
    with torch.no_grad():
        for b in batches:
            ids, mask = torch.tensor(b["input_ids"]), torch.tensor(b["attention_mask"])
            rewards, last = model(ids, mask)
            out.append({**b, "rewards": rewards.tolist(), "scored_positions": last.tolist()})
    return out


def write_random_fixture(output, seed):
    os.makedirs(output, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    cfg = GPT2Config(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4)
    eos = cfg.vocab_size - 1
    lm = GPT2LMHead(cfg)
    init_hf_like(lm, gen, randomize_bias_and_ln=True)
    score = 0.3 * torch.randn(1, cfg.n_embd, generator=gen)
    tensors = {n: p.detach() for n, p in lm.named_parameters()}
    tensors["score.weight"] = score
    write_safetensors(os.path.join(output, "model.safetensors"), tensors)
    hf = cfg.to_hf_dict(bos_token_id=eos, eos_token_id=eos)
    hf.update({"architectures": ["GPT2ForSequenceClassification"], "pad_token_id": eos, "num_labels": 1,
               "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}})
    with open(os.path.join(output, "config.json"), "w") as f:
        json.dump(hf, f, indent=2)

    def rand(n):
        return torch.randint(0, eos, (n,), generator=gen).tolist()

    a, b, c = rand(9), rand(5), rand(12)
    batches = []
    # The same texts with and without a trailing EOS, right-padded together: with pad = eos both score the last text token.
    batches.append(dict(zip(["input_ids", "attention_mask"], right_pad([a + [eos], a, b + [eos], c], eos)), name="trailing_eos_and_padding"))
    # An EOS inside the text: transformers reads the last id that is not the pad id, so the text after it counts.
    batches.append(dict(zip(["input_ids", "attention_mask"], right_pad([b + [eos] + rand(3) + [eos], rand(20)], eos)), name="eos_inside"))
    # One sequence, no padding at all.
    batches.append(dict(zip(["input_ids", "attention_mask"], right_pad([c + [eos]], eos)), name="single"))
    model = load_folder(output)
    result = {"pad_token_id": eos, "tolerance": 1e-4, "batches": score_batches(model, batches)}
    with open(os.path.join(output, "expected.json"), "w") as f:
        json.dump(result, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", default=os.path.join(REPO_ROOT, "tests", "fixtures", "gpt2_reward"))
    ap.add_argument("--score", help="a reward-model folder with inputs.json")
    ap.add_argument("--seed", type=int, default=4321)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.score:
        with open(os.path.join(args.score, "inputs.json")) as f:
            inputs = json.load(f)
        model = load_folder(args.score)
        with open(os.path.join(args.score, "expected.json"), "w") as f:
            json.dump({"pad_token_id": model.pad_token_id, "tolerance": 1e-4, "batches": score_batches(model, inputs["batches"])}, f, indent=1)
        return
    write_random_fixture(args.output, args.seed)


if __name__ == "__main__":
    main()
