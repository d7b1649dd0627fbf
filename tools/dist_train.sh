#!/usr/bin/env bash
# Launch tools/train.py on GPUS processes of this node with torch.distributed.run.
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
# PYTHON picks the interpreter (default: python, e.g. the activated .venv).
# Without CUDA, GPUS is the number of CPU processes; each gets cores / GPUS
# threads unless OMP_NUM_THREADS is set (tools/cpu_threads.sh).
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

# shellcheck source=cpu_threads.sh
source "$(dirname "$0")/cpu_threads.sh"
set_cpu_threads "$GPUS"

"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
