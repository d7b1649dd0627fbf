#!/usr/bin/env bash
# Create (or update) the project's virtual environment and install everything into it.
#
# Usage: bash tools/install.sh [VENV_DIR]        (default: .venv in the project root)
#
# Environment:
#   PYTHON          interpreter that creates the venv (default: python3; Python 3.11 is tested)
#   TORCH_SPEC      torch/torchvision requirement (default: "torch==2.14.1 torchvision==0.29.1");
#                   GPU users may point it at their CUDA build, e.g. with --index-url in PIP_* vars
#   PIP_FIND_LINKS  honoured by pip as usual: a folder holding a prebuilt mmcv 2.1.0 wheel skips
#                   the 10-50 minute source build
#
# A second run with nothing changed only checks the environment and exits within seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/.venv}
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
stamp="$venv/.dst_cbc_install"
say() { printf '[install] %s\n' "$*"; }

fingerprint() {
    (cd "$root" && cat requirements/*.txt setup.py tools/install.sh; echo "$torch_spec") \
        | sha256sum | cut -d' ' -f1
}
check_imports() {
    "$venv/bin/python" -c "import mmcv.ops, mmseg, mmpretrain, dst_cbc" >/dev/null 2>&1
}

want=$(fingerprint)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check_imports; then
    say "environment $venv is up to date (nothing to do)"
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    say "creating virtual environment $venv with $($python --version 2>&1)"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

say "installing $torch_spec"
# shellcheck disable=SC2086
"${pip[@]}" install $torch_spec

say "installing build tools and runtime requirements"
"${pip[@]}" install -r "$root/requirements/build.txt" -r "$root/requirements/runtime.txt"

if "$venv/bin/python" -c "import mmcv.ops" >/dev/null 2>&1; then
    say "mmcv with ops already installed"
else
    # torch >= 2.10 headers need C++20 while mmcv 2.1.0 compiles with -std=c++17.
    wrapdir=$(mktemp -d)
    trap 'rm -rf "$wrapdir"' EXIT
    real_cxx=$(command -v "${CXX:-g++}")
    printf '#!/usr/bin/env bash\nexec %q "${@/-std=c++17/-std=c++20}"\n' "$real_cxx" > "$wrapdir/cxx"
    chmod +x "$wrapdir/cxx"
    extra=()
    if "$venv/bin/python" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
        say "CUDA is visible: building mmcv from source with its CUDA ops"
        extra=(--no-binary mmcv)
    fi
    say "installing mmcv 2.1.0 (a wheel from PIP_FIND_LINKS if there is one, else a source build of 10-50 min)"
    CXX="$wrapdir/cxx" MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} \
        "${pip[@]}" install --no-build-isolation "${extra[@]}" "mmcv==2.1.0"
fi

say "installing OpenMMLab packages and test tools"
"${pip[@]}" install -r "$root/requirements/mminstall.txt" -r "$root/requirements/tests.txt"

say "installing the dst_cbc extension in editable mode"
"${pip[@]}" install --no-build-isolation --no-deps -e "$root"

say "checking imports"
if ! check_imports; then
    "$venv/bin/python" -c "import mmcv.ops, mmseg, mmpretrain, dst_cbc"
    exit 1
fi
echo "$want" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
say "done: activate with 'source $venv/bin/activate'"
