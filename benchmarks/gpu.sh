#!/usr/bin/env bash
# The GPU figures in one prepared run of at most ~8 minutes (issue 12, item 8), for a session lent a GPU machine:
#   1. ICVF pretraining, ResNet-50 at 128x128: samples/s in fp32, bf16 + channels_last, + torch.compile, and the
#      share of time the step waits for data (benchmarks/pretrain_throughput.py --gpu-only);
#   2. one pixel SAC update (pixels+state, 128x128, batch 256) in fp32 / bf16 / channels_last against the same
#      update on the machine's CPU (benchmarks/pixel_update.py);
#   3. `viva-robot pretrain` itself under torchrun with NCCL (one process per GPU), ResNet-50 at 128x128: its
#      samples/s and data-wait share from the run's own metrics.jsonl.
#
#   bash benchmarks/gpu.sh [OUT]              OUT: where gpu.log and the torchrun run go (default: $OUT, else a temp dir)
#   SMOKE=1 bash benchmarks/gpu.sh [OUT]      the same three steps at toy sizes on this CPU (gloo, small encoder,
#                                             64x64): what tests/test_benchmarks.py runs, so the first call on a lent
#                                             GPU does not fail on a typo
#
# The device machine has no registry: the packages its image lacks (zarr, pydantic, ...) travel as wheels that
# benchmarks/gpu_wheels.sh downloads into .whl/ here; the call carries .whl. On the device tool:
#   run(command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=540)
# Each step has its own time limit, so one that hangs costs its limit, not the lease.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=$(realpath -m "${1:-${OUT:-$(mktemp -d)}}")
mkdir -p "$OUT_DIR"
exec > >(tee "$OUT_DIR/gpu.log") 2>&1
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c "import zarr, pydantic" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then  # carried, if needed
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu.sh: installing the carried wheels (.whl/) failed"; exit 1; }
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

if [ -n "${SMOKE:-}" ]; then
  DEVICE=cpu ENCODER=small SIZE=64 NPROC=2 STEPS=4 PT_ARGS=(--gpu-episodes 4 --frames 20 --gpu-steps 2 --gpu-e2e-steps 2 --sampler-batches 1 --no-gpu-compile)
  PX_ARGS=(--size 64 --updates 1 --cpu-updates 1) EPISODES=4 RUN_ARGS=(--batch-size 32 --no-compile) LIMIT=180
else
  nvidia-smi -L || { echo "gpu.sh: no NVIDIA GPU here (nvidia-smi failed); SMOKE=1 runs the steps on a CPU"; exit 1; }
  DEVICE=cuda ENCODER=resnet50 SIZE=128 NPROC=$(nvidia-smi -L | wc -l) STEPS=200 PT_ARGS=() PX_ARGS=() EPISODES=50 RUN_ARGS=()
  LIMIT=200
fi
python3 -c "import torch, zarr, pydantic; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'zarr', zarr.__version__, 'pydantic', pydantic.__version__)" \
  || { echo "gpu.sh: a package is missing (bash benchmarks/gpu_wheels.sh here, then carry .whl)"; exit 1; }
failed=()

echo; echo "== 1/3 pretraining throughput ($ENCODER ${SIZE}x$SIZE on $DEVICE)"
timeout "$LIMIT" python3 benchmarks/pretrain_throughput.py --gpu-only --gpu-device "$DEVICE" --gpu-encoder "$ENCODER" \
  --gpu-size "$SIZE" "${PT_ARGS[@]}" || failed+=("pretrain_throughput (rc $?)")

echo; echo "== 2/3 pixel SAC update (${SIZE}x$SIZE on $DEVICE vs the CPU)"
timeout "$LIMIT" python3 benchmarks/pixel_update.py --device "$DEVICE" "${PX_ARGS[@]}" || failed+=("pixel_update (rc $?)")

echo; echo "== 3/3 viva-robot pretrain under torchrun, $NPROC process(es), $([ "$DEVICE" = cuda ] && echo NCCL || echo gloo)"
RUN=$OUT_DIR/torchrun-pretrain
rm -rf "$RUN" "$OUT_DIR/bench.zarr"
python3 - "$OUT_DIR/bench.zarr" "$EPISODES" "$SIZE" <<'EOF' || failed+=("torchrun dataset")
import sys
sys.path.insert(0, "benchmarks")
from pretrain_throughput import make_dataset
ds = make_dataset(__import__("pathlib").Path(sys.argv[1]), int(sys.argv[2]), 100, int(sys.argv[3]))
print(f"dataset: {ds.num_episodes} episodes, {ds.num_frames} frames {sys.argv[3]}x{sys.argv[3]}")
EOF
timeout "$LIMIT" python3 -m torch.distributed.run --standalone --nnodes 1 --nproc-per-node "$NPROC" -m viva_robot.cli \
  pretrain -q --data "$OUT_DIR/bench.zarr" --out "$RUN" --encoder "$ENCODER" --image-size "$SIZE" --device "$DEVICE" \
  --steps "$STEPS" --log-every $((STEPS / 4)) --eval-every "$STEPS" --checkpoint-every "$STEPS" "${RUN_ARGS[@]}" \
  || failed+=("torchrun pretrain (rc $?)")
python3 - "$RUN/metrics.jsonl" "$NPROC" "$DEVICE" <<'EOF' || failed+=("torchrun metrics")
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if "samples_per_s" in r]
last = rows[-1]  # the first logged window holds the compile and the first batches
print(f"torchrun_pretrain: {sys.argv[2]} process(es) on {sys.argv[3]}, step {last['step']}: "
      f"{last['samples_per_s']:.0f} samples/s (all processes), data wait {last['data_wait_fraction']:.0%}")
EOF
rm -rf "$OUT_DIR/bench.zarr"

echo
grep -E '^(pretrain_throughput_gpu|pixel_update|torchrun_pretrain):' "$OUT_DIR/gpu.log"
if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu.sh: failed: ${failed[*]}"
  exit 1
fi
