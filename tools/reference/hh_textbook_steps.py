"""The textbook's hh-rlhf data steps, written out independently of Rlhf.NET, and the counts they give.

Reward data (the chapter's RLHF/PPO part): keep rows where neither `chosen` nor `rejected` has "Human: " twice or
more; `extract_conversation` = `text.split("Assistant: ")[:2]`, drop "Human: ", strip (a text without "Assistant: "
raises in the textbook's code: counted here as "no assistant turn"); render
"### Question: {instruction}\n### Answer: {response}<|endoftext|>"; keep a row when the whole rendered chosen text and
the whole rendered rejected text each have <= 512 GPT-2 tokens. PPO queries: each kept chosen text up to and
including the first "### Answer: ".

DPO data (the chapter's DPO notebook): the same single-turn filter; pairs from the chosen text only (a text without
"Assistant: " gives ("", "")); skip an empty question or answer and answers starting with "let me explain" (any
case); prompt "### Question: {q}\n### Answer: ", chosen "Let me explain. " + a + eos, rejected a + eos; keep when
len(encode(prompt)) <= 256 and len(encode(prompt)) + len(encode(chosen)) <= 512.

SFT rows (not in the textbook; Rlhf.NET's rule, listed so the sample's counts are all in one place): the reward
data's single-turn, extracted chosen side, prompt and response counted apart, prompt <= 512 and total <= 512.

GPT-2 token counts come from tools/reference/gpt2_count_tokens.js (npm gpt-3-encoder@1.1.4).

    /usr/bin/python3 tools/reference/hh_textbook_steps.py --encoder /tmp/package data/samples/hh-rlhf-harmless-test.jsonl.gz \
        --output tests/fixtures/hh_real/textbook_counts.json
    # making the sample from Anthropic's harmless-base/test.jsonl.gz:
    /usr/bin/python3 tools/reference/hh_textbook_steps.py --encoder /tmp/package --select 200 test.jsonl.gz \
        --output data/samples/hh-rlhf-harmless-test.jsonl.gz
"""
import argparse
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

EOS = "<|endoftext|>"
TEMPLATE = "### Question: {instruction}\n### Answer: {response}{eos_token}"
ANSWER_KEY = "### Answer: "


def read_rows(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Counter:
    """GPT-2 token counts through the JavaScript reference, cached, in one call per batch of texts."""

    def __init__(self, package_dir):
        self.script = Path(__file__).with_name("gpt2_count_tokens.js")
        self.package_dir = package_dir
        self.cache = {}

    def prefetch(self, texts):
        todo = sorted({t for t in texts if t not in self.cache})
        if not todo:
            return
        out = subprocess.run(["node", str(self.script), self.package_dir], input=json.dumps(todo).encode("utf-8"),
                             capture_output=True, check=True).stdout
        self.cache.update(zip(todo, json.loads(out)))

    def __call__(self, text):
        return self.cache[text]


def single_turn(row):
    return row["chosen"].count("Human: ") < 2 and row["rejected"].count("Human: ") < 2


def extract_strict(text):
    parts = text.split("Assistant: ")[:2]
    if len(parts) < 2:
        raise ValueError("no assistant turn")
    human, assistant = parts
    return human.replace("Human: ", "").strip(), assistant.strip()


def extract_dpo(text):
    parts = text.split("Assistant: ")
    if len(parts) < 2:
        return "", ""
    return parts[0].replace("Human: ", "").strip(), parts[1].strip()


def reward_steps(rows, count, max_length=512):
    steps = [("read", len(rows))]
    rows = [r for r in rows if single_turn(r)]
    steps.append(("single-turn", len(rows)))
    rendered = []
    for r in rows:
        try:
            texts = [TEMPLATE.format(instruction=h, response=a, eos_token=EOS)
                     for h, a in (extract_strict(r["chosen"]), extract_strict(r["rejected"]))]
        except ValueError:
            continue
        rendered.append(texts)
    steps.append(("extract", len(rendered)))
    count.prefetch([t for pair in rendered for t in pair])
    kept = [p for p in rendered if count(p[0]) <= max_length and count(p[1]) <= max_length]
    steps.append(("length", len(kept)))
    return steps, kept


def ppo_steps(rows, count):
    steps, kept = reward_steps(rows, count)
    queries = [chosen.split(ANSWER_KEY)[0] + ANSWER_KEY for chosen, _ in kept]
    steps.append(("query", len(queries)))
    return steps, queries


def dpo_steps(rows, count):
    steps = [("read", len(rows))]
    rows = [r for r in rows if single_turn(r)]
    steps.append(("single-turn", len(rows)))
    extracted, pairs = 0, []
    for r in rows:
        human, answer = extract_dpo(r["chosen"])
        if not human or not answer:
            continue
        extracted += 1
        if answer.lower().startswith("let me explain"):
            continue
        pairs.append((f"### Question: {human}\n### Answer: ", "Let me explain. " + answer + EOS, answer + EOS))
    steps.append(("extract", extracted))
    steps.append(("let-me-explain", len(pairs)))
    count.prefetch([t for p in pairs for t in p[:2]])
    kept = [p for p in pairs if count(p[0]) <= 256 and count(p[0]) + count(p[1]) <= 512]
    steps.append(("length", len(kept)))
    return steps, kept


def sft_steps(rows, count, max_length=512, max_prompt_length=512):
    steps = [("read", len(rows))]
    rows = [r for r in rows if single_turn(r)]
    steps.append(("single-turn", len(rows)))
    examples = []
    for r in rows:
        try:
            human, answer = extract_strict(r["chosen"])
        except ValueError:
            continue
        examples.append((f"### Question: {human}\n### Answer: ", answer + EOS))
    steps.append(("extract", len(examples)))
    count.prefetch([t for e in examples for t in e])
    kept = [e for e in examples if count(e[0]) <= max_prompt_length and count(e[0]) + count(e[1]) <= max_length]
    steps.append(("length", len(kept)))
    return steps, kept


def select(rows, count, n):
    """The first rows of the split plus every row of the kinds worth testing (deterministic, file order kept)."""
    special = set()
    for i, r in enumerate(rows):
        c, j = r["chosen"].count("Human: "), r["rejected"].count("Human: ")
        if c < 2 <= j or j < 2 <= c:
            special.add(i)  # single-turn chosen with a two-turn rejected (or the other way round)
        elif c < 2 and j < 2:
            try:
                _, a = extract_strict(r["chosen"])
                _, b = extract_strict(r["rejected"])
            except ValueError:
                special.add(i)
                continue
            if not a or not b:
                special.add(i)  # an empty answer
    singles = [i for i, r in enumerate(rows) if single_turn(r)]
    texts = {i: [TEMPLATE.format(instruction=h, response=a, eos_token=EOS)
                 for h, a in (extract_strict(rows[i]["chosen"]), extract_strict(rows[i]["rejected"]))]
             for i in singles if i not in special}
    count.prefetch([t for v in texts.values() for t in v])
    special.update(sorted(i for i, v in texts.items() if max(count(t) for t in v) > 512)[:4])  # too long
    chosen = sorted(special | set(range(n - len(special))))
    return [rows[i] for i in chosen]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--encoder", required=True, help="extracted gpt-3-encoder@1.1.4 package folder")
    ap.add_argument("--select", type=int, help="write a sample of this many rows to --output instead of counts")
    ap.add_argument("--output")
    args = ap.parse_args()
    rows = read_rows(args.data)
    count = Counter(args.encoder)
    if args.select:
        sample = select(rows, count, args.select)
        raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample).encode("utf-8")
        with open(args.output, "wb") as f:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
                gz.write(raw)
        print(f"wrote {len(sample)} rows to {args.output}")
        return
    result = {}
    for task, fn in [("reward", reward_steps), ("ppo", ppo_steps), ("dpo", dpo_steps), ("sft", sft_steps)]:
        steps, kept = fn(rows, count)
        result[task] = {"steps": [{"name": n, "count": c} for n, c in steps]}
        print(task, " → ".join(f"{n} {c}" for n, c in steps))
    _, reward_kept = reward_steps(rows, count)
    result["reward"]["first_chosen_text"] = reward_kept[0][0]
    _, queries = ppo_steps(rows, count)
    result["ppo"]["first_query"] = queries[0]
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
