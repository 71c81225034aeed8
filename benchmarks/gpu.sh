#!/usr/bin/env bash
# The GPU figures in one prepared run of at most ~8 minutes (issue 12, item 8), for a session lent a GPU machine:
#   1. ICVF pretraining, ResNet-50 at 128x128: samples/s in fp32, bf16 + channels_last, + torch.compile, and the
#      share of time the step waits for data (benchmarks/pretrain_throughput.py --gpu-only);
#   2. one pixel SAC update (pixels+state, 128x128, batch 256) in fp32 / bf16 / channels_last against the same
#      update on the machine's CPU (benchmarks/pixel_update.py);
#   3. `viva-robot pretrain` itself under torchrun, one process per GPU, ResNet-50 at 128x128: its samples/s and
#      data-wait share from the run's own metrics.jsonl. With two or more GPUs that is DDP over NCCL; with one (the
#      lent machine has one) it is a single process with no process group, and the script says so.
#
#   bash benchmarks/gpu.sh [OUT]              OUT: where gpu.log and the torchrun run's logs go (default: $OUT, else a
#                                             temp dir)
#   SMOKE=1 bash benchmarks/gpu.sh [OUT]      the same three steps at toy sizes on this CPU (gloo, small encoder,
#                                             64x64): what tests/test_gpu_script.py runs, so the first call on a lent
#                                             GPU does not fail on a typo
#
# The device machine has no registry: the packages its image lacks (zarr, pydantic, ...) travel as wheels that
# benchmarks/gpu_wheels.sh downloads into .whl/ here; the call carries .whl. On the device tool:
#   run(command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=540)
# Each step has its own time limit (150 s; about 8 minutes in all), so one that hangs costs its limit, not the lease.
# What comes back from $OUT: gpu.log and the torchrun run's config.json and metrics.jsonl (its checkpoints, hundreds
# of MB, stay behind: the device returns at most 8 files of 16 MiB).
set -uo pipefail
case ${1:-} in -h | --help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac  # the header above
cd "$(dirname "$0")/.."
OUT_DIR=$(realpath -m "${1:-${OUT:-$(mktemp -d)}}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT_DIR"
exec > >(tee "$OUT_DIR/gpu.log") 2>&1
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c "import zarr, pydantic" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then  # carried, if needed
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu.sh: installing the carried wheels (.whl/) failed"; exit 1; }
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
python3 -c "import torch, zarr, pydantic; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'zarr', zarr.__version__, 'pydantic', pydantic.__version__)" \
  || { echo "gpu.sh: a package is missing (bash benchmarks/gpu_wheels.sh here, then carry .whl)"; exit 1; }

LIMIT=150
if [ -n "${SMOKE:-}" ]; then
  DEVICE=cpu ENCODER=small SIZE=64 NPROC=2 STEPS=4 EPISODES=4
  PT_ARGS=(--gpu-episodes 4 --frames 20 --gpu-steps 2 --gpu-e2e-steps 2 --sampler-batches 1 --no-gpu-compile)
  PX_ARGS=(--size 64 --updates 1 --cpu-updates 1) RUN_ARGS=(--batch-size 32 --no-compile)
else
  nvidia-smi -L || { echo "gpu.sh: no NVIDIA GPU here (nvidia-smi failed); SMOKE=1 runs the steps on a CPU"; exit 1; }
  NPROC=$(python3 -c "import torch; print(torch.cuda.device_count())")
  [ "$NPROC" -ge 1 ] || { echo "gpu.sh: nvidia-smi lists a GPU but torch sees none (device_count 0)"; exit 1; }
  DEVICE=cuda ENCODER=resnet50 SIZE=128 STEPS=200 EPISODES=50 PT_ARGS=() PX_ARGS=() RUN_ARGS=()
fi
failed=()
# each step's output also goes to its own file, read back whole for the summary once the step has ended
step() { local name=$1; shift; timeout "$LIMIT" "$@" 2>&1 | tee "$WORK/$name.log" || failed+=("$name (rc $?)"); }

echo; echo "== 1/3 pretraining throughput ($ENCODER ${SIZE}x$SIZE on $DEVICE)"
step pretrain_throughput python3 benchmarks/pretrain_throughput.py --gpu-only --gpu-device "$DEVICE" \
  --gpu-encoder "$ENCODER" --gpu-size "$SIZE" ${PT_ARGS[@]+"${PT_ARGS[@]}"}

echo; echo "== 2/3 pixel SAC update (${SIZE}x$SIZE on $DEVICE vs the CPU)"
step pixel_update python3 benchmarks/pixel_update.py --device "$DEVICE" ${PX_ARGS[@]+"${PX_ARGS[@]}"}

if [ "$NPROC" -gt 1 ]; then
  group="DDP over $([ "$DEVICE" = cuda ] && echo NCCL || echo gloo)"
else
  group="one GPU: a single process, no process group (DDP over NCCL needs two GPUs or more)"
fi
echo; echo "== 3/3 viva-robot pretrain under torchrun, $NPROC process(es), $group"
step dataset python3 benchmarks/pretrain_throughput.py --write-dataset "$WORK/bench.zarr" --gpu-episodes "$EPISODES" \
  --frames 100 --gpu-size "$SIZE"
step torchrun python3 -m torch.distributed.run --standalone --nnodes 1 --nproc-per-node "$NPROC" -m viva_robot.cli \
  pretrain -q --data "$WORK/bench.zarr" --out "$WORK/run" --encoder "$ENCODER" --image-size "$SIZE" \
  --device "$DEVICE" --steps "$STEPS" --log-every $((STEPS / 4)) --eval-every "$STEPS" --checkpoint-every "$STEPS" \
  ${RUN_ARGS[@]+"${RUN_ARGS[@]}"}
mkdir -p "$OUT_DIR/torchrun-pretrain"
cp "$WORK/run/config.json" "$WORK/run/metrics.jsonl" "$OUT_DIR/torchrun-pretrain/" 2>/dev/null
# the last logged window: the first holds the compile and the first batches
step torchrun_metrics python3 -c "
import json, sys
last = [r for r in map(json.loads, open(sys.argv[1])) if 'samples_per_s' in r][-1]
print(f'torchrun_pretrain: {sys.argv[2]} process(es) on {sys.argv[3]}, step {last[\"step\"]}: '
      f'{last[\"samples_per_s\"]:.0f} samples/s (all processes), data wait {last[\"data_wait_fraction\"]:.0%}')
" "$WORK/run/metrics.jsonl" "$NPROC" "$DEVICE"

echo
cat "$WORK"/*.log | grep -E '^(pretrain_throughput_gpu|pixel_update|torchrun_pretrain):'
if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu.sh: failed: ${failed[*]}"
  exit 1
fi
