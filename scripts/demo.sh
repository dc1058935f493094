#!/usr/bin/env bash
# Set everything up, then run a short evolution on the embedded defaults:
# SQLite archive, the embedded SmolLM2-135M model, built-in tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${EVOLARIUM_VENV:-.venv}/bin/evolarium" run --suite builtin --tasks 3 --generations 2 "$@"
