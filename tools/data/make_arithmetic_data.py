#!/usr/bin/env python3
"""Writes the verifiable task of `rlhf demo`'s GRPO stage (data/demo/arithmetic_*.jsonl): "37+5=" → 42.

Python standard library only and deterministic (fixed seed), so running it again gives the same bytes:

    python3 tools/data/make_arithmetic_data.py

Every sum a + b with a in 0..99 and b in 0..9 (1,000 problems), shuffled once, then split three ways:
  arithmetic_sft.jsonl      500 demonstrations (prompt, the teacher's response, the right answer) for the SFT step;
  arithmetic_prompts.jsonl  300 prompts with their answer and no demonstration, for GRPO (a verifier is cheaper than a
                            teacher; prompts the SFT model has not memorised still get varied samples);
  arithmetic_eval.jsonl     200 held-out prompts with their answer, never trained on, for the accuracy.

The demonstrations come from a sloppy teacher: when a sum needs a carry (a's last digit + b >= 10) the teacher
forgets it with probability FORGET_CARRY and writes a + b - 10. SFT imitates the teacher, mistakes included; GRPO only
sees whether the model's own answer is right (the numeric-answer reward against "answer"), so it can do better than
the demonstrations.
"""
import json
import os
import random

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "data", "demo")
FORGET_CARRY = 0.6
HELD_OUT = 200
GRPO_PROMPTS = 300

rng = random.Random(20251202)
problems = [(a, b) for a in range(100) for b in range(10)]
rng.shuffle(problems)
held_out = problems[:HELD_OUT]
grpo = problems[HELD_OUT:HELD_OUT + GRPO_PROMPTS]
sft = problems[HELD_OUT + GRPO_PROMPTS:]


def prompt(a, b):
    return f"{a}+{b}="


def teacher(a, b):
    carry = a % 10 + b >= 10
    return a + b - 10 if carry and rng.random() < FORGET_CARRY else a + b


def write(name, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


write("arithmetic_sft.jsonl", [{"prompt": prompt(a, b), "response": str(teacher(a, b)), "answer": a + b} for a, b in sft])
write("arithmetic_prompts.jsonl", [{"prompt": prompt(a, b), "answer": a + b} for a, b in grpo])
write("arithmetic_eval.jsonl", [{"prompt": prompt(a, b), "answer": a + b} for a, b in held_out])
