#!/usr/bin/env bash
# The paper's Franka Kitchen comparison on one task, end to end and resumable (docs/results.md, "The paper's protocol"):
#   failure-only prior data -> a value trained on that video -> the value checked toward the goal image ->
#   sparse SAC, RLPD, RLPD + viva (the paper's alpha and an alpha matched to this value), RLPD + potential.
#
#   bash experiments/paper_kitchen.sh RUNS [TASK] [SEEDS...]        e.g. bash experiments/paper_kitchen.sh /work/runs slide-cabinet 0 1 2
#   MODES="rlpd rlpd+potential" bash experiments/paper_kitchen.sh /work/runs microwave 0 1 2   # a subset of modes
#   JOBS=1 ...   runs at once (default 2: one per core here); GOAL_STEPS=200 ...   the value check's episode length (the
#   microwave's and hinge cabinet's scripted attempts need 140-200 steps; the default 100 is the paper's episode)
#
# Every step resumes: run the same command again after a crash or a reboot and it continues where it stopped
# (collect resumes after the last complete episode, pretrain from its last checkpoint, each RL run from its
# last checkpoint; finished steps are skipped). Two RL runs at a time (one thread each), from one queue in seed
# order: every mode's seed 0 first, then seed 1, ... so an interrupted session leaves whole seeds behind.
set -euo pipefail
case ${1:-} in -h | --help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac  # the header above
RUNS=$(realpath -m "${1:?usage: paper_kitchen.sh RUNS [TASK] [SEEDS...]}")  # before the cd: relative to the caller
cd "$(dirname "$0")/.."
TASK=${2:-slide-cabinet}
shift $(( $# >= 2 ? 2 : 1 ))
SEEDS=("${@:-0 1 2}")
[ ${#SEEDS[@]} -eq 1 ] && read -r -a SEEDS <<< "${SEEDS[0]}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

DATA=$RUNS/data/$TASK-failures.zarr
VALUE_RUN=$RUNS/icvf-$TASK-failures
VALUE=$VALUE_RUN/value.pt
CHECK=$RUNS/paper/$TASK/goal-value.png

viva-robot collect --config configs/collect/failures/kitchen-$TASK.yaml "$DATA" -q
viva-robot dataset info "$DATA"
if [ ! -f "$VALUE" ]; then
  if [ -d "$VALUE_RUN/checkpoints" ] && ls "$VALUE_RUN"/checkpoints/step_*.pt >/dev/null 2>&1; then
    viva-robot pretrain --resume "$VALUE_RUN" -q
  else
    rm -rf "$VALUE_RUN"  # stopped before its first checkpoint: nothing to keep
    viva-robot pretrain --config configs/pretrain/cpu-small.yaml --data "$DATA" --out "$VALUE_RUN" -q
  fi
fi
# the check warns when V scores states on the way above the task done (its error becomes the reward); a check made
# before is not run again, only its warning printed
if [ -f "${CHECK%.png}.json" ]; then
  python experiments/goal_value.py --summarize "${CHECK%.png}.json" | grep '^warning' || true
else
  python experiments/goal_value.py "$VALUE" "kitchen-$TASK" --episodes 4 --max-steps "${GOAL_STEPS:-100}" --out "$CHECK"
fi

# The paper's alpha (0.001) times its value's full range (1/(1-gamma) = 100) spans 0.1 of reward per step. The
# matched alpha gives this value the same span between what random exploration sees (its median V) and the task
# done (mean V on the success frames of fresh scripted attempts): alpha = 0.1 / (V_success - V_random_median).
# If no scripted attempt succeeded (the script failed on this task) or V does not rise, the paper's 0.001 is used.
ALPHA=$(python - "${CHECK%.png}.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
span = s.get("scripted", {}).get("v_at_success", float("nan")) - s["random"]["v_median"]
print(f"{0.1 / span:.2g}" if span > 0 else "0.001")
EOF
)
echo "matched viva alpha: $ALPHA"

read -r -a MODE_LIST <<< "${MODES:-sparse rlpd rlpd+potential rlpd+viva@ALPHA rlpd+viva}"
MODE_LIST=("${MODE_LIST[@]//@ALPHA/@$ALPHA}")
# One queue, seed-major (every mode's seed 0, then seed 1, ...), two runs at a time: a core never waits for the
# slowest run of a seed before the next seed starts.
python experiments/compare.py --config "configs/train/paper/kitchen-$TASK.yaml" --value "$VALUE" --prior "$DATA" \
    --modes "${MODE_LIST[@]}" --seeds "${SEEDS[@]}" --jobs "${JOBS:-2}" \
    --out "$RUNS/paper/$TASK" --plot "$RUNS/paper/$TASK/all-seeds.png"
