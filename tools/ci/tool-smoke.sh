#!/usr/bin/env bash
# Packs the libraries and the `rlhf` .NET tool, installs the tool into a clean folder and runs it there:
# a tokenizer, a random GPT-2 and a greedy generation, so the installed tool behaves as `dotnet run` does.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet pack "$repo/Rlhf.slnx" -c Release -o "$work/artifacts" --nologo -v quiet
for package in Rlhf.Tensors Rlhf Rlhf.Cli; do
  ls "$work/artifacts/$package".[0-9]*.nupkg >/dev/null
done
dotnet tool install --tool-path "$work/bin" --add-source "$work/artifacts" Rlhf.Cli >/dev/null
cd "$work"
./bin/rlhf tokenizer train --input "$repo/data/demo/sft_train.jsonl" --vocab-size 400 --output model >/dev/null
./bin/rlhf init --output model --n-layer 1 --n-head 2 --n-embd 16 --vocab-size 400 --overwrite-output-dir >/dev/null
./bin/rlhf generate --model model --prompt "Hello" --greedy --max-new-tokens 4 >/dev/null
echo "tool smoke test: packed 3 packages, installed rlhf, generated with it"
