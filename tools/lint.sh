#!/usr/bin/env bash
# House style check (OpenMMLab's flake8 / isort / yapf settings in setup.cfg).
# Usage: bash tools/lint.sh [--fix]
#   --fix: sort imports (isort), then format (yapf), in place.
#   default: flake8, then the same isort + yapf pass on a copy of the tree;
#            exit 1, printing the diff, if it would change any file.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(pwd)/${VENV_BIN:-.venv/bin}"
paths=(projects tools tests benchmarks configs setup.py)

format() {
    "$bin/isort" -q "${paths[@]}"
    "$bin/yapf" -i -r -p "${paths[@]}"
}

if [ "${1:-}" = "--fix" ]; then
    format
fi
"$bin/flake8" "${paths[@]}"
copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT
cp -r "${paths[@]}" setup.cfg "$copy/"
(cd "$copy" && format)
changed=0
for p in "${paths[@]}"; do
    diff -ru "$p" "$copy/$p" || changed=1
done
if [ "$changed" = 1 ]; then
    echo 'style: isort + yapf would change the files above;' \
        'run bash tools/lint.sh --fix'
    exit 1
fi
echo 'style: flake8, isort and yapf clean'
