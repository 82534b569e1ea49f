// Parquet fixtures for Rlhf.Data.ParquetRows from independent JavaScript code:
//  1. reads each apache/parquet-testing file in DIR/apache with hyparquet and writes its rows as DIR/apache/NAME.json
//     (int64 as exact JSON integers, dates/timestamps as ISO 8601 UTC strings);
//  2. writes a TRL-shaped preference file (trl-lib/ultrafeedback_binarized's columns: chosen/rejected as
//     list<struct<content, role>>, float64 score_chosen/score_rejected) and an hh-rlhf-shaped one
//     (chosen/rejected strings) with parquet-wasm (the Rust arrow/parquet crates, writing version-1 data pages as
//     pyarrow does by default), each beside a JSON Lines twin holding the same rows;
//  2b. writes ultrafeedback_prefs.parquet (HuggingFaceH4/ultrafeedback_binarized's columns) from the rows that
//     trl_extract_prompt.py wrote to ultrafeedback_prefs.jsonl;
//  3. writes the TRL rows once more with hyparquet-writer, which writes version-2 data pages (trl_preference.v2.parquet):
//     Parquet.Net 6.1.0 cannot read nested columns from those, and the test checks the message that says so.
// Usage: cd tools/reference && npm ci && node parquet_fixtures.mjs ../../tests/fixtures/parquet
import fs from "node:fs";
import path from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { parquetWriteFile } from "hyparquet-writer";
import { Table as WasmTable, writeParquet, WriterPropertiesBuilder, Compression } from "parquet-wasm/node";
import { Field, Float64, List, Struct, Table, Utf8, tableToIPC, vectorFromArray } from "apache-arrow";

const dir = process.argv[2] ?? "../../tests/fixtures/parquet";

// JSON with BigInt written as an exact integer and Date as its ISO string.
function toJson(value) {
  const marked = JSON.stringify(value, (_, v) => {
    if (v === undefined) return null; // hyparquet leaves a null column undefined
    if (typeof v === "bigint") return `@@big:${v}@@`;
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`non-finite number ${v}`);
    return v;
  }, 1);
  return marked.replace(/"@@big:(-?\d+)@@"/g, "$1");
}

const apache = path.join(dir, "apache");
for (const name of fs.readdirSync(apache).filter(n => n.endsWith(".parquet")).sort()) {
  const file = await asyncBufferFromFile(path.join(apache, name));
  const rows = await parquetReadObjects({ file, compressors });
  fs.writeFileSync(path.join(apache, name.replace(/\.parquet$/, ".json")), toJson(rows) + "\n");
  console.log(`${name}: ${rows.length} rows`);
}

// ---- TRL's conversational preference layout (as pyarrow writes list<struct<content: string, role: string>>).
const turn = (role, content) => ({ content, role });
const trl = [
  { chosen: [turn("user", "What do bees make?"), turn("assistant", "Bees make honey and beeswax.")],
    rejected: [turn("user", "What do bees make?"), turn("assistant", "Cars.")], score_chosen: 8.5, score_rejected: 2.0 },
  { chosen: [turn("user", "Name a primary colour."), turn("assistant", "Red.")],
    rejected: [turn("user", "Name a primary colour."), turn("assistant", "Purple, probably.")], score_chosen: 7.25, score_rejected: 3.5 },
  { chosen: [turn("user", "Say hello in French."), turn("assistant", "Bonjour !")],
    rejected: [turn("user", "Say hello in French."), turn("assistant", "Hola.")], score_chosen: 9.0, score_rejected: 1.0 },
  { chosen: [turn("user", "2 + 2 = ?"), turn("assistant", "4")],
    rejected: [turn("user", "2 + 2 = ?"), turn("assistant", "22")], score_chosen: 10.0, score_rejected: 0.5 },
  // An empty answer.
  { chosen: [turn("user", "Answer with nothing?"), turn("assistant", "")],
    rejected: [turn("user", "Answer with nothing?"), turn("assistant", "Something.")], score_chosen: 5.0, score_rejected: 4.5 },
  { chosen: [turn("user", "Écris « merci » en japonais."), turn("assistant", "ありがとう")],
    rejected: [turn("user", "Écris « merci » en japonais."), turn("assistant", "Danke.")], score_chosen: 6.75, score_rejected: 2.25 },
  { chosen: [turn("system", "Be brief."), turn("user", "Multi-turn?"), turn("assistant", "Yes."), turn("user", "Sure?"), turn("assistant", "Sure.")],
    rejected: [turn("system", "Be brief."), turn("user", "Multi-turn?"), turn("assistant", "Yes."), turn("user", "Sure?"), turn("assistant", "No idea, sorry.")], score_chosen: 7.0, score_rejected: 4.0 },
];
const str = (name, repetition_type = "OPTIONAL") => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type });
const messages = name => [
  { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
  str("content"), str("role"),
];
// As pyarrow types the Hub's conversational columns: list<element: struct<content: string, role: string>>.
const message = new Struct([new Field("content", new Utf8(), true), new Field("role", new Utf8(), true)]);
const messageList = new List(new Field("element", message, true));
function writeArrow(file, columns, rowGroupSize) {
  const table = new Table(columns);
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).setMaxRowGroupSize(rowGroupSize).build();
  fs.writeFileSync(file, writeParquet(WasmTable.fromIPCStream(tableToIPC(table, "stream")), props));
}
writeArrow(path.join(dir, "trl_preference.parquet"), {
  chosen: vectorFromArray(trl.map(r => r.chosen), messageList),
  rejected: vectorFromArray(trl.map(r => r.rejected), messageList),
  score_chosen: vectorFromArray(trl.map(r => r.score_chosen), new Float64()),
  score_rejected: vectorFromArray(trl.map(r => r.score_rejected), new Float64()),
}, 3); // three row groups: the reader must carry row numbers across them
parquetWriteFile({
  filename: path.join(dir, "trl_preference.v2.parquet"),
  columnData: [
    { name: "chosen", data: trl.map(r => r.chosen) },
    { name: "rejected", data: trl.map(r => r.rejected) },
    { name: "score_chosen", data: trl.map(r => r.score_chosen) },
    { name: "score_rejected", data: trl.map(r => r.score_rejected) },
  ],
  schema: [
    { name: "root", num_children: 4 },
    ...messages("chosen"), ...messages("rejected"),
    { name: "score_chosen", type: "DOUBLE", repetition_type: "OPTIONAL" },
    { name: "score_rejected", type: "DOUBLE", repetition_type: "OPTIONAL" },
  ],
  rowGroupSize: 3,
});
fs.writeFileSync(path.join(dir, "trl_preference.jsonl"), trl.map(r => JSON.stringify(r)).join("\n") + "\n");

// ---- Anthropic/hh-rlhf's layout (its refs/convert/parquet branch): two strings per row.
const hh = [
  { chosen: "\n\nHuman: What do bees make?\n\nAssistant: Honey.", rejected: "\n\nHuman: What do bees make?\n\nAssistant: Cars." },
  { chosen: "\n\nHuman: Hi!\n\nAssistant: Hello! How can I help?", rejected: "\n\nHuman: Hi!\n\nAssistant: Go away." },
  { chosen: "\n\nHuman: Is water wet?\n\nAssistant: Yes.", rejected: "\n\nHuman: Is water wet?\n\nAssistant: Yes." },
  { chosen: "\n\nHuman: One?\n\nAssistant: Yes.\n\nHuman: Two?\n\nAssistant: Two.", rejected: "\n\nHuman: One?\n\nAssistant: Yes.\n\nHuman: Two?\n\nAssistant: Three." },
  { chosen: "\n\nHuman: Capital of France?\n\nAssistant: Paris.", rejected: "\n\nHuman: Capital of France?\n\nAssistant: Lyon." },
];
writeArrow(path.join(dir, "hh_preference.parquet"), {
  chosen: vectorFromArray(hh.map(r => r.chosen), new Utf8()),
  rejected: vectorFromArray(hh.map(r => r.rejected), new Utf8()),
}, 1024);
fs.writeFileSync(path.join(dir, "hh_preference.jsonl"), hh.map(r => JSON.stringify(r)).join("\n") + "\n");

// ---- HuggingFaceH4/ultrafeedback_binarized's layout (train_prefs): a string prompt beside conversations that repeat it.
// The rows (and what TRL makes of them) come from trl_extract_prompt.py, which writes ultrafeedback_prefs.jsonl.
const uf = fs.readFileSync(path.join(dir, "ultrafeedback_prefs.jsonl"), "utf8").split("\n").filter(l => l).map(l => JSON.parse(l));
writeArrow(path.join(dir, "ultrafeedback_prefs.parquet"), {
  prompt: vectorFromArray(uf.map(r => r.prompt), new Utf8()),
  prompt_id: vectorFromArray(uf.map(r => r.prompt_id), new Utf8()),
  chosen: vectorFromArray(uf.map(r => r.chosen), messageList),
  rejected: vectorFromArray(uf.map(r => r.rejected), messageList),
  messages: vectorFromArray(uf.map(r => r.messages), messageList),
  score_chosen: vectorFromArray(uf.map(r => r.score_chosen), new Float64()),
  score_rejected: vectorFromArray(uf.map(r => r.score_rejected), new Float64()),
}, 5); // two row groups
console.log(`trl_preference: ${trl.length} rows, hh_preference: ${hh.length} rows, ultrafeedback_prefs: ${uf.length} rows`);
