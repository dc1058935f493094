#!/usr/bin/env bash
# Set everything up, then run the linter, the format check and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${EVOLARIUM_VENV:-.venv}"
"$VENV/bin/ruff" check evolarium tests bench
"$VENV/bin/ruff" format --check evolarium tests bench
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
