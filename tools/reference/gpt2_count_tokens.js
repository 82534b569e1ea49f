// GPT-2 token counts for texts, by the independent npm package gpt-3-encoder@1.1.4 (a port of OpenAI's encoder.py).
// "<|endoftext|>" is matched first and counts as one token (id 50256), as Hugging Face's GPT-2 tokenizer does.
//
// Usage: node tools/reference/gpt2_count_tokens.js <gpt-3-encoder package dir>   (stdin: JSON list of strings;
//        stdout: JSON list of token counts)
'use strict';
const fs = require('fs');
const path = require('path');

const packageDir = process.argv[2];
if (!packageDir) {
  console.error('usage: node gpt2_count_tokens.js <gpt-3-encoder package dir> < texts.json');
  process.exit(2);
}
const { encode } = require(path.resolve(packageDir, 'Encoder.js'));
const EOS = '<|endoftext|>';

function count(text) {
  let n = 0;
  const pieces = text.split(EOS);
  pieces.forEach((piece, i) => {
    if (piece.length > 0) n += encode(piece).length;
    if (i + 1 < pieces.length) n += 1;
  });
  return n;
}

const texts = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map(count)));
