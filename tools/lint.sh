#!/usr/bin/env bash
# House style check (OpenMMLab's flake8 / isort / yapf settings in setup.cfg).
# Usage: bash tools/lint.sh [--fix]   (default: check only; exit 1 on a
# violation, printing what to change)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${VENV_BIN:-.venv/bin}"
paths=(projects tools tests benchmarks configs setup.py)
if [ "${1:-}" = "--fix" ]; then
    "$bin/isort" "${paths[@]}"
    "$bin/yapf" -i -r -p "${paths[@]}"
fi
"$bin/flake8" "${paths[@]}"
"$bin/isort" --check-only --diff "${paths[@]}"
diff=$("$bin/yapf" --diff -r -p "${paths[@]}")
if [ -n "$diff" ]; then
    echo "$diff"
    echo 'yapf would reformat the files above: run bash tools/lint.sh --fix'
    exit 1
fi
echo 'style: flake8, isort and yapf clean'
