#!/usr/bin/env bash
# Runs `rlhf bench <what> …` (Release build): our numbers, the PyTorch reference beside them, and the ratio.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec dotnet run -c Release --project "$here/src/Rlhf.Cli" -- bench "$@"
