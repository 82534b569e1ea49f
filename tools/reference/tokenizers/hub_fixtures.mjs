// Expected ids, decodings and chat-template renderings for the real Hub tokenizers in tests/fixtures/hub_tokenizers/
// (each folder: tokenizer.json + tokenizer_config.json as the model ships them), computed by transformers.js's own
// packages: @huggingface/tokenizers for encode/decode and @huggingface/jinja (tools/reference/node_modules) for the
// folder's chat_template, with and without add_generation_prompt, over tests/fixtures/chat_templates/conversations.json.
// The rendered text is then encoded as apply_chat_template(tokenize=True) does (add_special_tokens=False).
//
// Usage (offline, after `npm ci` here and in tools/reference):
//   node tools/reference/tokenizers/hub_fixtures.mjs tests/fixtures/hub_tokenizers tests/fixtures/chat_templates/conversations.json
import fs from "fs";
import path from "path";
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { texts } from "./texts.mjs";

const [root, conversationsPath] = process.argv.slice(2);
if (!root || !conversationsPath) {
  console.error("usage: node hub_fixtures.mjs <hub_tokenizers folder> <conversations.json>");
  process.exit(2);
}
const conversations = JSON.parse(fs.readFileSync(conversationsPath, "utf8"));
const pkg = name => JSON.parse(fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), "..",
  name === "@huggingface/jinja" ? "" : "tokenizers", "node_modules", name, "package.json"), "utf8"));
const generator = `${pkg("@huggingface/tokenizers").name}@${pkg("@huggingface/tokenizers").version} + ${pkg("@huggingface/jinja").name}@${pkg("@huggingface/jinja").version}`;

// Texts that exercise these vocabularies' own added tokens (Phi-3's chat markers, Phi-2's runs of spaces).
const extra = [
  "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|endoftext|>",
  "def f():\n        return 1\n                x = 2\n\t\t\ty",
  "a                                b  c   d    e     f      g       h",
];
const name = token => (token && typeof token === "object" ? token.content : token) ?? null;

for (const folder of fs.readdirSync(root).sort()) {
  const dir = path.join(root, folder);
  if (!fs.existsSync(path.join(dir, "tokenizer.json"))) continue;
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  const tokenizer = new Tokenizer(json, config);
  const cases = [...texts, ...extra].map(text => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    return {
      text, ids, ids_with_special_tokens: tokenizer.encode(text, { add_special_tokens: true }).ids,
      decoded: ids.length ? tokenizer.decode(ids) : "",
      decoded_skip_special: ids.length ? tokenizer.decode(ids, { skip_special_tokens: true }) : "",
    };
  });
  const chat = [];
  if (typeof config.chat_template === "string") {
    const template = new Template(config.chat_template);
    for (const [conversation, messages] of Object.entries(conversations)) {
      for (const addGenerationPrompt of [false, true]) {
        const entry = { conversation, add_generation_prompt: addGenerationPrompt };
        try {
          entry.text = template.render({
            messages, add_generation_prompt: addGenerationPrompt, bos_token: name(config.bos_token), eos_token: name(config.eos_token),
          });
          entry.ids = tokenizer.encode(entry.text, { add_special_tokens: false }).ids;
        } catch (error) {
          entry.error = String(error.message ?? error);
        }
        chat.push(entry);
      }
    }
  }
  fs.writeFileSync(path.join(dir, "expected.json"), JSON.stringify({ generator, folder, cases, chat }, null, 1) + "\n");
  console.log(`${folder}: ${cases.length} texts, ${chat.length} chat renderings (${chat.filter(c => c.error).length} errors)`);
}
