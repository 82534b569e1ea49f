"""Writes src/Rlhf/Text/Pipeline/unicode_nfc.txt: the Unicode data NFC/NFD need (the project runs with
InvariantGlobalization, where .NET's string.Normalize has no tables).

Lines: "d CP PART..." canonical decomposition (one level), "c CP CLASS" non-zero canonical combining class,
"x CP" a two-part decomposition that does not compose back (composition exclusion). Hangul is algorithmic.
Run: /usr/bin/python3 tools/reference/unicode_nfc_table.py  (Python's unicodedata; its Unicode version is the header)."""
import sys
import unicodedata

out = sys.argv[1] if len(sys.argv) > 1 else "src/Rlhf/Text/Pipeline/unicode_nfc.txt"
lines = [f"# Unicode {unicodedata.unidata_version} canonical data from Python's unicodedata (tools/reference/unicode_nfc_table.py)"]
for cp in range(0x110000):
    if 0xAC00 <= cp <= 0xD7A3 or 0xD800 <= cp <= 0xDFFF:
        continue
    ch = chr(cp)
    ccc = unicodedata.combining(ch)
    if ccc:
        lines.append(f"c {cp:X} {ccc}")
    d = unicodedata.decomposition(ch)
    if d and not d.startswith("<"):
        parts = [int(p, 16) for p in d.split()]
        lines.append("d %X %s" % (cp, " ".join("%X" % p for p in parts)))
        if len(parts) == 2 and unicodedata.normalize("NFC", "".join(map(chr, parts))) != ch:
            lines.append(f"x {cp:X}")
with open(out, "w", encoding="ascii", newline="\n") as f:
    f.write("\n".join(lines) + "\n")
print(out, len(lines))
