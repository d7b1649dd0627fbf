# Sourced by dist_train.sh and dist_test.sh: on CPUs, share this node's cores
# equally between its processes.
#
# set_cpu_threads NPROC exports OMP_NUM_THREADS = cores / NPROC (at least 1)
# when OMP_NUM_THREADS is unset and torch sees no CUDA device (with GPUs,
# torch.distributed.run's default of 1 thread per process stays). Cores are
# the CPUs this shell may run on (nproc). An NPROC that is not a positive
# integer (torch.distributed.run also takes "auto", "cpu"...) is left to
# torch.distributed.run.
set_cpu_threads() {
    local procs=$1 cores threads
    if [ -n "${OMP_NUM_THREADS:-}" ]; then
        return 0
    fi
    case "$procs" in
        '' | *[!0-9]* | 0) return 0 ;;
    esac
    if "${PYTHON:-python}" -c \
        'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
        return 0
    fi
    cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
    threads=$((cores / procs))
    if [ "$threads" -lt 1 ]; then
        threads=1
    fi
    export OMP_NUM_THREADS=$threads
}
