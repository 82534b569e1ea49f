// Builds small tokenizers of the kinds the Hub's Llama-family models ship (from one byte-level BPE vocabulary
// trained on this repository's text) and writes, for each, the ids and decodings that transformers.js's tokenizer
// package (@huggingface/tokenizers, an implementation independent of ours) gives for a fixed corpus.
//
// Usage (offline, after `npm ci` here):
//   node tools/reference/tokenizers/make_fixtures.mjs <trained folder with vocab.json + merges.txt> tests/fixtures/tokenizers
// The trained folder comes from `rlhf tokenizer train` (see tools/reference/README.md).
import fs from "fs";
import path from "path";
import { Tokenizer } from "@huggingface/tokenizers";
import { texts } from "./texts.mjs";

const [baseDir, outDir] = process.argv.slice(2);
if (!baseDir || !outDir) {
  console.error("usage: node make_fixtures.mjs <trained folder> <output folder>");
  process.exit(2);
}
const baseVocab = JSON.parse(fs.readFileSync(path.join(baseDir, "vocab.json"), "utf8"));
const baseMerges = fs.readFileSync(path.join(baseDir, "merges.txt"), "utf8").split("\n")
  .filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith("#version")))
  .map(line => line.split(" "));
delete baseVocab["<|endoftext|>"];

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (addPrefixSpace, trimOffsets, useRegex) =>
  ({ type: "ByteLevel", add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: useRegex });
const added = (id, content, special, extra = {}) =>
  ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special, ...extra });
const bpe = (vocab, merges, extra = {}) => ({
  type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
  fuse_unk: false, byte_fallback: false, ignore_merges: false, ...extra, vocab, merges,
});
const template = (token, id) => ({
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: token, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
  pair: [{ SpecialToken: { id: token, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
    { SpecialToken: { id: token, type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: { [token]: { id: token, ids: [id], tokens: [token] } },
});
const size = Object.keys(baseVocab).length;
const withAdded = (vocab, tokens) => {
  const copy = { ...vocab };
  for (const t of tokens) copy[t.content] = t.id;
  return copy;
};

// Byte-level kinds share the trained vocabulary; ids after it are the added tokens.
const chatml = [added(size, "<|endoftext|>", true), added(size + 1, "<|im_start|>", true), added(size + 2, "<|im_end|>", true)];
const kinds = {};
kinds.smollm2 = {
  tokenizer: {
    version: "1.0", truncation: null, padding: null,
    added_tokens: chatml,
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel(false, true, true)] },
    post_processor: byteLevel(true, false, true),
    decoder: byteLevel(true, true, true),
    model: bpe(withAdded(baseVocab, chatml), baseMerges.map(m => m.join(" "))),
  },
  config: { tokenizer_class: "GPT2Tokenizer", add_prefix_space: false, bos_token: "<|im_start|>", eos_token: "<|im_end|>",
    pad_token: "<|im_end|>", unk_token: "<|endoftext|>", model_max_length: 8192, clean_up_tokenization_spaces: false },
};
const qwenAdded = [...chatml, added(size + 3, "<tool_call>", false, { normalized: false }),
  added(size + 4, "</tool_call>", false, { normalized: false })];
kinds.qwen2 = {
  tokenizer: {
    version: "1.0", truncation: null, padding: null,
    added_tokens: qwenAdded,
    normalizer: { type: "NFC" },
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: QWEN2_REGEX }, behavior: "Isolated", invert: false }, byteLevel(false, false, false)] },
    post_processor: byteLevel(false, false, false),
    decoder: byteLevel(false, false, false),
    model: bpe(withAdded(baseVocab, qwenAdded), baseMerges, { continuing_subword_prefix: "", end_of_word_suffix: "" }),
  },
  config: { tokenizer_class: "Qwen2Tokenizer", add_prefix_space: false, bos_token: null, eos_token: "<|im_end|>",
    pad_token: "<|endoftext|>", unk_token: null, model_max_length: 131072, clean_up_tokenization_spaces: false, errors: "replace" },
};
// Llama 3: the 256 reserved specials sit after the vocabulary; ignore_merges; BOS from TemplateProcessing. A few
// whole words are in the vocabulary without merges that build them, so ignore_merges changes their ids.
const llamaVocab = { ...baseVocab };
const wholeWords = ["Ġtokenization", "Ġmerges", "Ġvocabulary"];
let next = size;
for (const w of wholeWords) if (!(w in llamaVocab)) llamaVocab[w] = next++;
const llamaAdded = [added(next, "<|begin_of_text|>", true), added(next + 1, "<|end_of_text|>", true),
  added(next + 2, "<|start_header_id|>", true), added(next + 3, "<|end_header_id|>", true), added(next + 4, "<|eot_id|>", true)];
kinds.llama3 = {
  tokenizer: {
    version: "1.0", truncation: null, padding: null,
    added_tokens: llamaAdded,
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: LLAMA3_REGEX }, behavior: "Isolated", invert: false }, byteLevel(false, true, false)] },
    post_processor: { type: "Sequence", processors: [byteLevel(true, false, true), template("<|begin_of_text|>", next)] },
    decoder: byteLevel(true, true, true),
    model: bpe(withAdded(llamaVocab, llamaAdded), baseMerges, { ignore_merges: true }),
  },
  config: { tokenizer_class: "PreTrainedTokenizerFast", bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>",
    model_max_length: 131072, clean_up_tokenization_spaces: true },
};

// SentencePiece-style vocabulary from the same merges: <unk> <s> </s>, the 256 byte tokens, then the trained tokens
// whose bytes are whole UTF-8 text, spaces written "▁"; merges whose three pieces all survive.
const decoder = new TextDecoder("utf-8", { fatal: true });
const unicodeToByte = (() => {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return new Map(cs.map((c, i) => [String.fromCharCode(c), bs[i]]));
})();
const piece = token => {
  try {
    return decoder.decode(Uint8Array.from([...token].map(c => unicodeToByte.get(c)))).replaceAll(" ", "\u2581");
  } catch { return null; }
};
const spVocab = { "<unk>": 0, "<s>": 1, "</s>": 2 };
for (let b = 0; b < 256; b++) spVocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
for (const [token] of Object.entries(baseVocab).sort((a, b) => a[1] - b[1])) {
  const p = piece(token);
  if (p !== null && p.length > 0 && !(p in spVocab)) spVocab[p] = Object.keys(spVocab).length;
}
const spMerges = [];
for (const [left, right] of baseMerges) {
  const l = piece(left), r = piece(right);
  if (l !== null && r !== null && l in spVocab && r in spVocab && (l + r) in spVocab) spMerges.push(`${l} ${r}`);
}
const llama2Added = [added(0, "<unk>", true, { normalized: false }), added(1, "<s>", true, { normalized: false }),
  added(2, "</s>", true, { normalized: false })];
const spSize = Object.keys(spVocab).length;
kinds.tinyllama = {
  tokenizer: {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [...llama2Added, added(spSize, "<|user|>", false, { normalized: false, rstrip: true }),
      added(spSize + 1, "<|assistant|>", false, { normalized: false, lstrip: true })],
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "\u2581" }, { type: "Replace", pattern: { String: " " }, content: "\u2581" }] },
    pre_tokenizer: null,
    post_processor: template("<s>", 1),
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "\u2581" }, content: " " },
      { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
    model: bpe(spVocab, spMerges, { unk_token: "<unk>", fuse_unk: true, byte_fallback: true }),
  },
  config: { tokenizer_class: "LlamaTokenizer", add_bos_token: true, add_eos_token: false, bos_token: "<s>", eos_token: "</s>",
    unk_token: "<unk>", pad_token: null, legacy: false, model_max_length: 2048, clean_up_tokenization_spaces: false },
};
// Newer Llama-2-family conversions (legacy: false) use a Metaspace pre-tokenizer and decoder instead.
kinds.llama2_metaspace = {
  tokenizer: {
    version: "1.0", truncation: null, padding: null,
    added_tokens: llama2Added,
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false },
    post_processor: template("<s>", 1),
    decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false },
    model: bpe(spVocab, [...spMerges].map(m => m.split(" ")), { unk_token: "<unk>", fuse_unk: true, byte_fallback: true }),
  },
  config: { tokenizer_class: "LlamaTokenizerFast", bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>",
    model_max_length: 4096, clean_up_tokenization_spaces: false },
};


fs.mkdirSync(outDir, { recursive: true });
const pkg = JSON.parse(fs.readFileSync(new URL("./node_modules/@huggingface/tokenizers/package.json", import.meta.url), "utf8"));
for (const [name, kind] of Object.entries(kinds)) {
  const folder = path.join(outDir, name);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, "tokenizer.json"), JSON.stringify(kind.tokenizer));
  fs.writeFileSync(path.join(folder, "tokenizer_config.json"), JSON.stringify(kind.config, null, 2) + "\n");
  const tokenizer = new Tokenizer(kind.tokenizer, kind.config);
  const cases = texts.map(text => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    const withSpecial = tokenizer.encode(text, { add_special_tokens: true }).ids;
    return {
      text, ids, ids_with_special_tokens: withSpecial,
      decoded: ids.length ? tokenizer.decode(ids) : "",
      decoded_skip_special: ids.length ? tokenizer.decode(ids, { skip_special_tokens: true }) : "",
    };
  });
  fs.writeFileSync(path.join(folder, "expected.json"),
    JSON.stringify({ generator: `${pkg.name}@${pkg.version}`, kind: name, cases }, null, 1) + "\n");
  console.log(`${name}: ${cases.length} cases, vocabulary ${Object.keys(kind.tokenizer.model.vocab).length}`);
}
