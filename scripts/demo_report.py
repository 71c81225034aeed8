"""`make demo`'s last step: demo/report.md, the value checked before any RL and the guided-vs-unguided contrast.

    python scripts/demo_report.py demo [VALUE.pt]

Reads what the demo's commands left: value-check/value_check.json (held-out scripted video), goal-value.json
(experiments/goal_value.py: fresh episodes toward the task's goal image), and the two SAC runs (sac-guided:
potential shaping; sac-sparse: plain SAC at the same budget, given the value only to log V), and draws their
mean V(s, g*) and success per training episode in one plot.
"""

import json
import sys
from pathlib import Path

import numpy as np

from viva_robot.data.dataset import VideoDataset
from viva_robot.rl.video import trailing_mean

demo = Path(sys.argv[1] if len(sys.argv) > 1 else "demo")
value_path = sys.argv[2] if len(sys.argv) > 2 else "the value"
check = json.loads((demo / "value-check" / "value_check.json").read_text())
goal = json.loads((demo / "goal-value.json").read_text())["summary"]
ds = VideoDataset(demo / "slide.zarr")
runs = {"guided (potential)": demo / "sac-guided", "unguided (sparse)": demo / "sac-sparse"}


def rows(run: Path, kind: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, (ax_v, ax_s) = plt.subplots(1, 2, figsize=(11, 3.8))
lines = []
for name, run in runs.items():
    eps = rows(run, "episode")
    steps = np.array([r["step"] for r in eps])
    value = np.array([r.get("reward/value", np.nan) for r in eps])
    success = np.array([r["success"] for r in eps])
    ax_v.plot(steps, trailing_mean(value, 10), label=name)
    ax_s.plot(steps, trailing_mean(success, 10), label=name)
    last = rows(run, "eval")[-1]
    k = max(len(eps) // 5, 1)
    lines.append(f"| {name} | {steps[-1] if len(steps) else 0} | {np.nanmean(value[:k]):.1f} -> {np.nanmean(value[-k:]):.1f} "
                 f"| {int(success.sum())} of {len(eps)} | {last['success_rate']:.2f}, return {last['return']:.1f} |")
ax_v.set(title="mean V(s, g*) per training episode (last 10)", xlabel="environment steps")
ax_s.set(title="training episodes with success (last 10)", xlabel="environment steps", ylim=(-0.03, 1.03))
for ax in (ax_v, ax_s):
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(demo / "guided-vs-sparse.png", dpi=100)

kinds, pixel = check["accuracy_by_kind"], check["pixel_distance_accuracy_by_kind"]
scripted = goal["scripted"]
report = f"""# viva-robot demo report

1. **Fresh video of the task** (`slide.zarr`): {ds.num_episodes} episodes, {ds.num_frames} frames of the Franka
   Kitchen slide cabinet that the value never saw. First episode:
   ![episode 0](slide-episode0.png)
2. **The value** (`{value_path}`), checked before any RL.
   - Temporal order toward each episode's own last frame (`value-check`): scripted attempts
     **{kinds.get('scripted', float('nan')):.3f}** against {pixel.get('scripted', float('nan')):.3f} for the pixel-distance
     reference -(squared difference to the goal frame); all episodes {check['temporal_order_accuracy']:.3f}
     (pixels {check['pixel_distance_accuracy']:.3f}). 0.5 is chance.
     ![value curves](value-check/value_curves.png)
   - Toward the task's goal image, along fresh episodes in the simulator (`experiments/goal_value.py`): scripted
     successes rise from V = {scripted.get('v_start', float('nan')):.1f} to {scripted.get('v_at_success', float('nan')):.1f}
     at success (order accuracy {scripted['temporal_order_accuracy']:.2f}, pixels {scripted['pixel_order_accuracy']:.2f});
     uniform random actions stay between {goal['random']['v_p10']:.1f} and {goal['random']['v_p90']:.1f} (10th-90th percentile).
     ![goal value](goal-value.png)
3. **SAC with and without the value, same budget** (state observations; the value reads the camera frame):

   | agent | steps | mean V(s, g*) per episode, first -> last fifth | training episodes with success | last evaluation |
   | --- | --- | --- | --- | --- |
{chr(10).join('   ' + line for line in lines)}

   ![guided vs sparse](guided-vs-sparse.png)

   The unguided agent is given the value only to log V along its episodes (its reward is the sparse task
   reward). Evaluation videos with the value curve: `sac-guided/eval/`, `sac-sparse/eval/`.
"""
(demo / "report.md").write_text(report)
print(f"wrote {demo / 'report.md'} and {demo / 'guided-vs-sparse.png'}")
