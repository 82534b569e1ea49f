"""Preference rows in HuggingFaceH4/ultrafeedback_binarized's layout (prompt: string, prompt_id, chosen/rejected/messages:
lists of {content, role}, float score_chosen/score_rejected) and what TRL makes of them, from an independent Python
reading of trl/data_utils.py (TRL 0.12-0.28's DPO data path: maybe_extract_prompt, then apply_chat_template):

- maybe_extract_prompt keeps `prompt` only when it is conversational like chosen/rejected; a string prompt beside message
  lists is replaced by extract_prompt's: the messages before the first index where chosen and rejected differ. When no
  index differs within the shorter list, the loop's variable is left at its last value, so the last message of the
  shorter side goes to the completions.
- apply_chat_template: the prompt rendered with add_generation_prompt after a user/tool message, or with
  continue_final_message after an assistant one (transformers: rendering cut right after the final message's text);
  then cut to the text shared with the renderings of prompt+chosen and prompt+rejected; each side is the rest of its
  rendering.

Writes tests/fixtures/parquet/ultrafeedback_prefs.jsonl (the rows; parquet_fixtures.mjs writes the .parquet twin) and
ultrafeedback_prefs.expected.json (per row: the extracted messages and, per template of
tests/fixtures/chat_templates/templates.json, the rendered prompt/chosen/rejected).
Requirements: Debian's /usr/bin/python3 with python3-jinja2. Usage: /usr/bin/python3 tools/reference/trl_extract_prompt.py
"""
import hashlib
import json
from pathlib import Path

from chat_template_jinja2 import environment

ROOT = Path(__file__).resolve().parents[2]


def turn(role, content):
    return {"content": content, "role": role}


def row(prompt, chosen, rejected, score_chosen, score_rejected):
    return {"prompt": prompt, "prompt_id": hashlib.sha256(prompt.encode()).hexdigest(), "chosen": chosen,
            "rejected": rejected, "messages": chosen, "score_chosen": score_chosen, "score_rejected": score_rejected}


U, A, S = (lambda c: turn("user", c)), (lambda c: turn("assistant", c)), (lambda c: turn("system", c))
ROWS = [
    # The common case: the string prompt is the user turn both conversations start with.
    row("What do bees make?", [U("What do bees make?"), A("Honey and beeswax.")], [U("What do bees make?"), A("Cars.")], 8.5, 2.0),
    # The string prompt disagrees with the conversations: TRL does not look at it.
    row("A prompt that is not the user turn.", [U("Name a primary colour."), A("Red.")], [U("Name a primary colour."), A("Purple, probably.")], 7.25, 3.5),
    # Multi-turn with a system message: the prompt is everything before the last answers.
    row("Sure?", [S("Be brief."), U("Multi-turn?"), A("Yes."), U("Sure?"), A("Sure.")],
        [S("Be brief."), U("Multi-turn?"), A("Yes."), U("Sure?"), A("No idea, sorry.")], 7.0, 4.0),
    # The sides differ from the first answer on: the completions hold several messages.
    row("Count to two.", [U("Count to two."), A("One."), U("And?"), A("Two.")], [U("Count to two."), A("Uno."), U("And?"), A("Dos.")], 6.0, 5.0),
    # Both sides the same: TRL keeps the last message as each completion.
    row("Same?", [U("Same?"), A("Same.")], [U("Same?"), A("Same.")], 5.0, 5.0),
    # Rejected goes on after chosen's answer: the shorter side's last message starts the completions.
    row("Stop here?", [U("Stop here?"), A("Yes.")], [U("Stop here?"), A("Yes."), U("Really?"), A("No.")], 6.5, 1.5),
    # The shared part ends with an assistant message: continue_final_message (trailing space kept as written).
    row("Pick one.", [U("Pick one."), A("Here it is: "), U("Which?"), A("The first.")],
        [U("Pick one."), A("Here it is: "), U("Why?"), A("No reason.")], 9.0, 3.0),
    row("Écris « merci » en japonais.", [U("Écris « merci » en japonais."), A("ありがとう")], [U("Écris « merci » en japonais."), A("Danke.")], 6.75, 2.25),
]


def is_conversational(value):
    return isinstance(value, list) and len(value) > 0 and isinstance(value[0], dict) and "role" in value[0]


def extract(example):
    """TRL's maybe_extract_prompt + extract_prompt on one row (see the module docstring)."""
    if "prompt" in example and is_conversational(example["prompt"]) == is_conversational(example["chosen"]):
        return example["prompt"], example["chosen"], example["rejected"]
    chosen, rejected = example["chosen"], example["rejected"]
    shorter = min(len(chosen), len(rejected))
    first_difference = [i for i in range(shorter) if chosen[i] != rejected[i]]
    idx = first_difference[0] if first_difference else shorter - 1
    return chosen[:idx], chosen[idx:], rejected[idx:]


def py_strip(text, left=True, right=True):
    if left:
        text = text.lstrip()
    if right:
        text = text.rstrip()
    return text


def render(env, spec, messages, add_generation_prompt=False, continue_final_message=False):
    tokens = {k: spec[k] for k in ("bos_token", "eos_token") if spec[k] is not None}
    text = env.from_string(spec["template"]).render(messages=messages, tools=None, documents=None,
                                                    add_generation_prompt=add_generation_prompt, **tokens)
    if continue_final_message:
        final = messages[-1]["content"]
        at = text.rindex(final.strip())  # ValueError when the template drops the message: TRL fails the same way
        keep = len(py_strip(final, right=False)) if text[at:at + len(py_strip(final, right=False))] == final else len(final.strip())
        text = text[:at + keep]
    return text


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def apply_chat_template(env, spec, prompt, chosen, rejected):
    last = prompt[-1]["role"]
    assert last in ("user", "tool", "assistant"), last
    prompt_text = render(env, spec, prompt, add_generation_prompt=last != "assistant", continue_final_message=last == "assistant")
    prompt_chosen = render(env, spec, prompt + chosen)
    prompt_rejected = render(env, spec, prompt + rejected)
    prompt_text = common_prefix(common_prefix(prompt_text, prompt_chosen), prompt_rejected)
    return {"prompt": prompt_text, "chosen": prompt_chosen[len(prompt_text):], "rejected": prompt_rejected[len(prompt_text):]}


def main():
    templates = json.loads((ROOT / "tests/fixtures/chat_templates/templates.json").read_text(encoding="utf-8"))
    env = environment()
    out_dir = ROOT / "tests/fixtures/parquet"
    (out_dir / "ultrafeedback_prefs.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    expected = []
    for r in ROWS:
        prompt, chosen, rejected = extract(r)
        expected.append({"prompt": prompt, "chosen": chosen, "rejected": rejected,
                         "rendered": {name: apply_chat_template(env, spec, prompt, chosen, rejected) for name, spec in templates.items()}})
    document = {"generator": "tools/reference/trl_extract_prompt.py", "rows": expected}
    (out_dir / "ultrafeedback_prefs.expected.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(ROWS)} rows, {len(templates)} templates -> {out_dir}")


if __name__ == "__main__":
    main()
