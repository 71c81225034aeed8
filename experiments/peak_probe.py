"""Is a value's early peak the value's or the pixels'? One fresh scripted attempt, V(s, g*) beside the negative pixel
distance to the goal image (the temporal-order baseline's measure) at the steps that tell: the start, the highest V
20 or more steps before the first success (goal_value.py's early peak), the lowest V between it and the success, the
first success, 5 and 15 steps after it, and the end; and V(g*, g*), the value of the goal image itself.

    python experiments/peak_probe.py VALUE TASK [--seed 5] [--max-steps 100]

(docs/results.md, "The peak is the value's, not the pixels'".)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from goal_value import EARLY, episode  # noqa: E402

from viva_robot.envs.sim import SimEnv  # noqa: E402
from viva_robot.value.diagnostics import pixel_distance  # noqa: E402
from viva_robot.value.guide import ValueGuide  # noqa: E402


def probe_steps(values: np.ndarray, success: list[bool]) -> dict[str, int]:
    """The steps the probe reports, from one successful attempt's V curve and success flags."""
    first = success.index(True)
    peak = int(np.argmax(values[:max(first - EARLY, 1)]))
    trough = peak + int(np.argmin(values[peak:first]))
    end = len(values) - 1
    return {"start": 0, "early peak": peak, "trough": trough, "first success": first,
            "success + 5": min(first + 5, end), "success + 15": min(first + 15, end), "end": end}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("value", type=Path)
    ap.add_argument("task")
    ap.add_argument("--seed", type=int, default=5, help="reset seed of the attempt (the goal image uses 0)")
    ap.add_argument("--max-steps", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)
    env = SimEnv(args.task, 64, max_steps=args.max_steps)
    guide = ValueGuide(args.value, 64, torch.device("cpu"))
    guide.set_goal(env.goal_image)
    run = episode(env, "scripted", 0.0, args.seed, guide, keep_frames=True)
    env.close()
    v, success = np.asarray(run["values"]), run["success"]
    if not any(success):
        sys.exit(f"the scripted attempt (seed {args.seed}) did not succeed in {args.max_steps} steps: nothing to compare")
    pixels = pixel_distance(run["frames"], env.goal_image)
    steps = probe_steps(v, success)
    print(f"{args.task}, {args.value}, scripted attempt seed {args.seed}: V(g*, g*) = {float(guide(env.goal_image)):.2f}")
    print(f"{'':14s} {'step':>5s} {'V(s, g*)':>9s} {'-pixel dist':>12s}")
    for name, t in steps.items():
        print(f"{name:14s} {t:5d} {v[t]:9.2f} {pixels[t]:12.0f}")


if __name__ == "__main__":
    main()
