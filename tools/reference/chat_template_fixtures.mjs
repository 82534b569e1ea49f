// Renders every template of tests/fixtures/chat_templates/templates.json over every conversation of
// conversations.json, with and without add_generation_prompt, using @huggingface/jinja (transformers.js's own
// Jinja engine, with transformers' settings trim_blocks and lstrip_blocks) as the independent reference.
// strftime_now sees a fixed clock (2025-03-09 14:05:07, en-US month names) so the output is reproducible.
// Usage: cd tools/reference && npm ci && node chat_template_fixtures.mjs ../../tests/fixtures/chat_templates
import fs from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";

const dir = process.argv[2] ?? "../../tests/fixtures/chat_templates";
const templates = JSON.parse(fs.readFileSync(path.join(dir, "templates.json"), "utf8"));
const conversations = JSON.parse(fs.readFileSync(path.join(dir, "conversations.json"), "utf8"));

// transformers' strftime_now reads the wall clock; here @huggingface/jinja's own strftime_now reads a fixed one.
const RealDate = Date;
const FIXED_NOW = new RealDate(2025, 2, 9, 14, 5, 7).getTime();
globalThis.Date = class extends RealDate {
  constructor(...args) { super(...(args.length ? args : [FIXED_NOW])); }
  static now() { return FIXED_NOW; }
};

const cases = [];
for (const [templateName, spec] of Object.entries(templates)) {
  const template = new Template(spec.template);
  for (const [conversationName, messages] of Object.entries(conversations)) {
    for (const addGenerationPrompt of [false, true]) {
      const context = {
        messages, add_generation_prompt: addGenerationPrompt,
        bos_token: spec.bos_token, eos_token: spec.eos_token,
      };
      const entry = { template: templateName, conversation: conversationName, add_generation_prompt: addGenerationPrompt };
      try {
        entry.text = template.render(context);
      } catch (error) {
        entry.error = String(error.message ?? error);
      }
      cases.push(entry);
    }
  }
}
const output = { generator: "tools/reference/chat_template_fixtures.mjs", engine: "@huggingface/jinja 0.5.11", clock: "2025-03-09T14:05:07", cases };
fs.writeFileSync(path.join(dir, "expected.json"), JSON.stringify(output, null, 1) + "\n");
console.log(`${cases.length} cases (${cases.filter((c) => c.error).length} errors) -> ${path.join(dir, "expected.json")}`);
