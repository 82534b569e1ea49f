"""Renders tests/fixtures/chat_templates with Python's jinja2 in the environment transformers builds for
apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, json.dumps tojson,
raise_exception and strftime_now globals; see transformers/utils/chat_template_utils.py). Writes expected_jinja2.json.

Requirements: Debian's /usr/bin/python3 with python3-jinja2 (3.1.2). transformers itself is not needed.
Usage: /usr/bin/python3 tools/reference/chat_template_jinja2.py tests/fixtures/chat_templates
"""
import json
import sys
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2025, 3, 9, 14, 5, 7)


class GenerationTag(jinja2.ext.Extension):
    """transformers' {% generation %} block (AssistantTracker) renders its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, template, **variables):
    try:
        return {"text": env.from_string(template).render(**variables)}
    except jinja2.exceptions.TemplateError as error:
        return {"error": str(error)}


def trl_cases(env, templates, conversations):
    """TRL's conversational rules (trl/data_utils.py): prompt = render(prompt, add_generation_prompt=True);
    completion = render(prompt + completion)[len(prompt):]; implicit prompts are the shared leading messages;
    assistant-only segments cut a messages row at turn boundaries."""
    def chat(spec, messages, agp):
        tokens = {k: spec[k] for k in ("bos_token", "eos_token") if spec[k] is not None}
        return env.from_string(spec["template"]).render(messages=messages, tools=None, documents=None, add_generation_prompt=agp, **tokens)

    conversation = conversations["system_multi_turn_ending_assistant"]
    rejected = conversation[:-1] + [{"role": "assistant", "content": "Nope."}]
    out = []
    for name, spec in templates.items():
        prompt = chat(spec, conversation[:-1], True)
        full = chat(spec, conversation, False)
        assert full.startswith(prompt)
        # implicit prompt: the longest run of messages chosen and rejected share
        idx = next(i for i in range(min(len(conversation), len(rejected))) if conversation[i] != rejected[i])
        shared = conversation[:idx]
        implicit_prompt = chat(spec, shared, True)
        segments, done = [], ""
        for i, message in enumerate(conversation):
            if message["role"] == "assistant" and i > 0:
                header = chat(spec, conversation[:i], True)[len(done):]
                if header:
                    segments.append({"text": header, "trained": False})
                done += header
            turn = chat(spec, conversation[: i + 1], False)
            assert turn.startswith(done)
            segments.append({"text": turn[len(done):], "trained": message["role"] == "assistant"})
            done = turn
        out.append({"template": name, "prompt": prompt, "completion": full[len(prompt):],
                    "implicit_prompt": implicit_prompt,
                    "chosen": chat(spec, conversation, False)[len(implicit_prompt):],
                    "rejected": chat(spec, rejected, False)[len(implicit_prompt):], "segments": segments})
    return out


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/chat_templates")
    templates = json.loads((folder / "templates.json").read_text(encoding="utf-8"))
    conversations = json.loads((folder / "conversations.json").read_text(encoding="utf-8"))
    engine_cases = json.loads((folder / "engine_cases.json").read_text(encoding="utf-8"))
    env = environment()
    cases = []
    for template_name, spec in templates.items():
        # apply_chat_template passes the special tokens that are set, tools=None and documents=None.
        tokens = {k: spec[k] for k in ("bos_token", "eos_token") if spec[k] is not None}
        for conversation_name, messages in conversations.items():
            for add_generation_prompt in (False, True):
                result = render(env, spec["template"], messages=messages, tools=None, documents=None,
                                add_generation_prompt=add_generation_prompt, **tokens)
                cases.append({"template": template_name, "conversation": conversation_name,
                              "add_generation_prompt": add_generation_prompt, **result})
    engine = [{"name": name, **render(env, spec["template"], **spec["context"])} for name, spec in engine_cases.items()]
    output = {"generator": "tools/reference/chat_template_jinja2.py", "engine": f"jinja2 {jinja2.__version__}",
              "clock": FIXED_NOW.isoformat(), "cases": cases, "engine_cases": engine,
              "trl_cases": trl_cases(env, templates, conversations)}
    (folder / "expected_jinja2.json").write_text(json.dumps(output, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases, {len(engine)} engine cases -> {folder / 'expected_jinja2.json'}")


if __name__ == "__main__":
    main()
