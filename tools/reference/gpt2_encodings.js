// Produces tests/fixtures/gpt2_vocab/encodings.json: GPT-2 token ids for a fixed corpus, computed by the
// independent npm package gpt-3-encoder@1.1.4 (a JavaScript port of OpenAI's encoder.py).
//
// Usage: node tools/reference/gpt2_encodings.js <path to extracted gpt-3-encoder package> <output json>
'use strict';
const fs = require('fs');
const path = require('path');

const [packageDir, outputPath] = process.argv.slice(2);
if (!packageDir || !outputPath) {
  console.error('usage: node gpt2_encodings.js <gpt-3-encoder package dir> <output json>');
  process.exit(2);
}
const { encode, decode } = require(path.resolve(packageDir, 'Encoder.js'));

// Plain text only (gpt-3-encoder has no special-token handling). Avoids the few code points whose
// whitespace class differs between JavaScript (\uFEFF is \s) and Python/Rust/.NET (\x85 is \s).
const corpus = [
  'Hello world',
  'The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times; ' +
    'it was the age of wisdom, it was the age of foolishness.',
  'In 1905, Albert Einstein published four papers that changed physics forever — on the photoelectric ' +
    'effect, Brownian motion, special relativity and mass–energy equivalence (E = mc²).',
  'using System;\n\nnamespace Demo\n{\n    public static class Program\n    {\n        public static int Main(string[] args)\n' +
    '        {\n            var total = 0;\n            for (int i = 0; i < args.Length; i++) total += args[i].Length;\n' +
    '            Console.WriteLine($"total = {total}");\n            return 0;\n        }\n    }\n}\n',
  'def fibonacci(n: int) -> list[int]:\n    """Return the first n Fibonacci numbers."""\n    a, b = 0, 1\n' +
    '    out = []\n    for _ in range(n):\n        out.append(a)\n        a, b = b, a + b\n    return out\n\n\n' +
    'if __name__ == "__main__":\n\tprint(fibonacci(10))  # tab-indented\n',
  'a  b\n\n\n  c   ',
  '   leading spaces and trailing spaces   ',
  '\n\n\nnewlines first\r\nwindows line\r\n',
  "I'm can't we'll they've she'd he's it's you're I'd We'LL DON'T 'quoted' ''double''",
  '3.14159 12345 1,000,000 0x1F 1e-9 -42 +7 2024-06-01 12:30:45 $19.99 100%',
  '👍🏽 🎉 👨‍👩‍👧‍👦 ❤️ 🇯🇵 smile 😀😀😀',
  'こんにちは世界、日本語のテキスト。',
  '中文文本测试，包含标点符号。 한국어 텍스트도 있습니다.',
  'Ça va? Café, naïve, façade, Zürich, São Paulo, Ångström, Łódź, Dvořák, Øresund, Ελληνικά, Русский текст.',
  'tabs\tbetween\t\twords\t\t\tand at the end\t',
  'col1\tcol2\tcol3\n1\t2\t3\n',
  'Mixed:   multiple   spaces    here.\u00a0Non-breaking\u00a0space and\u3000ideographic space.',
  'punctuation!!! ??? ... --- *** ### @@@ ((( ))) [[[ ]]] {{{ }}} <<< >>> /// \\\\\\ ||| ~~~ ```',
  'https://example.com/path?query=value&other=1#fragment user@example.org',
  '<html><body><p class="intro">Hello, <b>world</b>!</p></body></html>',
  '{"key": "value", "list": [1, 2, 3], "nested": {"a": null, "b": true}}',
  ' ',
  '',
  'x',
  'supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis',
  'ﬁ ligature, ½ fraction, ² superscript, Ⅻ roman numeral, ٣ arabic-indic digit, ꝏ',
  // Long pre-tokenised words (more than 48 bytes), which take the heap-based merge path.
  '吾輩は猫である名前はまだ無いどこで生れたかとんと見当がつかぬ何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している',
  '='.repeat(120) + '\n' + '-'.repeat(77) + ' ' + '#'.repeat(64),
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  '31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679',
  'ab'.repeat(80) + ' ' + 'aaaa'.repeat(30) + ' ' + 'Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft',
];

const entries = corpus.map(text => {
  const ids = encode(text);
  if (decode(ids) !== text) throw new Error('reference round trip failed for ' + JSON.stringify(text));
  return { text, ids };
});

const document = {
  source: 'gpt-3-encoder@1.1.4 (npm), encode(); vocab.json = encoder.json, merges.txt = vocab.bpe',
  encodings: entries,
};
// One entry per line pair, ids on a single line, so diffs of the fixture stay readable.
const body = entries.map(e => `  {"text": ${JSON.stringify(e.text)},\n   "ids": ${JSON.stringify(e.ids)}}`).join(',\n');
fs.writeFileSync(outputPath, `{\n "source": ${JSON.stringify(document.source)},\n "encodings": [\n${body}\n ]\n}\n`);
console.log(`wrote ${entries.length} encodings to ${outputPath}`);
