// Cross-checks a tokenizer folder written by BpeTokenizer.Save against Hugging Face's tokenizers.js
// (@huggingface/tokenizers, a JavaScript implementation of the tokenizer.json format).
//
// Usage: node tools/reference/tokenizers_js_check.mjs <node_modules dir with @huggingface/tokenizers> <saved folder> <samples.json>
// samples.json: encodings.json's {"encodings": [{"text", "ids"}]} or a plain [{"text", "ids"}] array.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [modulesDir, folder, samplesPath] = process.argv.slice(2);
if (!modulesDir || !folder || !samplesPath) {
  console.error("usage: node tokenizers_js_check.mjs <node_modules dir> <tokenizer folder> <samples.json>");
  process.exit(2);
}
const packageJson = JSON.parse(fs.readFileSync(path.join(modulesDir, "@huggingface/tokenizers/package.json"), "utf8"));
const entry = path.join(modulesDir, "@huggingface/tokenizers", packageJson.exports?.["."]?.import ?? packageJson.module ?? packageJson.main);
const { Tokenizer } = await import(pathToFileURL(entry).href);

const read = name => JSON.parse(fs.readFileSync(path.join(folder, name), "utf8"));
const tokenizer = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
const loaded = JSON.parse(fs.readFileSync(samplesPath, "utf8"));
const samples = Array.isArray(loaded) ? loaded : loaded.encodings;

let failures = 0;
for (const { text, ids } of samples) {
  const actual = tokenizer.encode(text, { add_special_tokens: false }).ids;
  if (JSON.stringify(actual) !== JSON.stringify(ids)) {
    failures++;
    console.log("ids differ for", JSON.stringify(text.slice(0, 80)), "\n  tokenizers.js:", actual.slice(0, 20), "\n  expected:     ", ids.slice(0, 20));
  }
  if ((actual.length === 0 ? "" : tokenizer.decode(actual)) !== text) {
    failures++;
    console.log("decode differs for", JSON.stringify(text.slice(0, 80)));
  }
}
console.log(`${samples.length - failures}/${samples.length} samples agree (${packageJson.name}@${packageJson.version})`);
process.exit(failures === 0 ? 0 : 1);
