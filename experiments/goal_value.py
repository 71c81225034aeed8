"""Does a value checkpoint rise toward the *task's* goal image (the one `viva-robot train` uses) along
episodes in the live env? The reward signal ViVa gives SAC, looked at before any RL.

    python experiments/goal_value.py runs/microwave-icvf/value.pt kitchen-microwave --out docs/results/microwave-goal-value.png

Runs `--episodes` fresh scripted attempts (noise 0 and 0.1 alternating), undirected play and uniform random
actions (what SAC's first `random_steps` are) in `SimEnv`, evaluates V(s_t, g*) on every frame against the
env's rendered goal image, plots the curves (success steps marked) and prints each episode's temporal-order
accuracy toward g* (fraction of frame pairs i < j with V_i < V_j), with the pixel-distance reference
-(squared difference to g*) beside it. The summary says whether the value is flat over what exploration
reaches: the spread of V over random-action frames (10th..90th percentile) against the rise along the
scripted successes (mean V over their success frames minus V at their start); and whether V peaks on the way, above
its value at the task done (the highest V each scripted attempt reaches 20 or more steps before its first success):
a shaped reward then pays most for that earlier state. Seeds start at 10_000, never those `collect` films.

    python experiments/goal_value.py --summarize runs/goal-value.json   # the summary again from a saved JSON
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from viva_robot.envs.sim import SimEnv
from viva_robot.value.guide import ValueGuide
from viva_robot.sim.tasks import make_policy
from viva_robot.value.diagnostics import pixel_distance, temporal_order_pairs

EARLY = 20  # steps before an attempt's first success that count as "on the way" (a fifth of the paper's episode)


def episode(env: SimEnv, kind: str, noise: float, seed: int, guide: ValueGuide, keep_frames: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    model, data = env._env.unwrapped.model, env._env.unwrapped.data
    policy = make_policy(env.task.name, kind, rng, noise) if kind != "random" else None
    obs, info = env.reset(seed=seed)
    frames, success, done = [obs["image"]], [info["success"]], False
    while not done:
        action = policy(model, data) if policy else rng.uniform(-1, 1, env.action_space.shape)
        obs, _, terminated, truncated, info = env.step(np.clip(action, -1, 1).astype(np.float32))
        frames.append(obs["image"])
        success.append(info["success"])
        done = terminated or truncated
    frames = np.stack(frames)
    values = guide(frames)
    ordered, pairs = temporal_order_pairs(values)
    p_ordered, _ = temporal_order_pairs(pixel_distance(frames, env.goal_image))
    return {"kind": kind, "noise": noise, "seed": seed, "values": values.tolist(), "success": success,
            "temporal_order_accuracy": ordered / max(pairs, 1), "pixel_order_accuracy": p_ordered / max(pairs, 1),
            **({"frames": frames} if keep_frames else {})}


def summarize(runs: list[dict]) -> dict:
    """Rise along scripted successes vs spread over random exploration; the kinds' mean accuracies."""
    out: dict = {}
    for kind in ("scripted", "play", "random"):
        rs = [r for r in runs if r["kind"] == kind]
        if rs:
            out[kind] = {"episodes": len(rs), "successes": sum(any(r["success"]) for r in rs),
                         "temporal_order_accuracy": float(np.mean([r["temporal_order_accuracy"] for r in rs])),
                         "pixel_order_accuracy": float(np.mean([r["pixel_order_accuracy"] for r in rs]))}
    wins = [r for r in runs if r["kind"] == "scripted" and any(r["success"])]
    if wins:
        start = [r["values"][0] for r in wins]
        # the task done: every frame with the cabinet/door counted open (the first one is often mid-motion)
        done = np.concatenate([np.array(r["values"])[np.array(r["success"])] for r in wins])
        out["scripted"].update(v_start=float(np.mean(start)), v_at_success=float(done.mean()),
                               rise=float(done.mean() - np.mean(start)))
        # A peak on the way: the highest V each attempt reaches at least EARLY steps before its first success
        # frame (the frames just before it are the task nearly done). Above the task done, a shaped reward pays
        # most for that earlier state (docs/results.md: the microwave's raised arm).
        first_success = [r["success"].index(True) for r in wins]
        before = [np.array(r["values"][:t - EARLY]) for r, t in zip(wins, first_success) if t > EARLY]
        if before:
            above = [np.flatnonzero(b > done.mean()) for b in before]
            first_above = [int(a[0]) for a in above if a.size]
            out["scripted"].update(
                v_peak_before_success=float(np.mean([b.max() for b in before])),
                attempts_above_success=f"{len(first_above)} of {len(before)}",  # V above the task done, early
                first_step_above_success=float(np.mean(first_above)) if first_above else None,
                first_success_step=float(np.mean(first_success)))
    rand = np.concatenate([r["values"] for r in runs if r["kind"] == "random"] or [np.zeros(0)])
    if rand.size:
        lo, mid, hi = np.percentile(rand, [10, 50, 90])
        out["random"].update(v_p10=float(lo), v_median=float(mid), v_p90=float(hi), spread=float(hi - lo))
        if wins:
            rise = out["scripted"]["rise"]
            out["spread_over_rise"] = float((hi - lo) / rise) if rise > 0 else None  # None: no rise at all
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, nargs="?")
    ap.add_argument("task", nargs="?")
    ap.add_argument("--out", type=Path, help="PNG; a JSON with the curves is written beside it")
    ap.add_argument("--max-steps", type=int, default=100, help="episode length (the paper's Kitchen protocol: 100)")
    ap.add_argument("--episodes", type=int, default=4, help="episodes of each kind")
    ap.add_argument("--summarize", type=Path, metavar="JSON", help="print the summary of a JSON this script wrote "
                    "(its episodes, summarized by this version) and exit: no env, no value")
    args = ap.parse_args()
    if args.summarize:
        saved = json.loads(args.summarize.read_text())
        if not isinstance(saved, dict) or "episodes" not in saved:
            raise SystemExit(f"{args.summarize}: not a JSON this version of goal_value.py wrote (no 'episodes' "
                             "object); run the check again")
        summary = summarize(saved["episodes"])
        print(json.dumps(summary, indent=2))
        warn_peak(summary)
        return
    if args.checkpoint is None or args.task is None or args.out is None:
        ap.error("CHECKPOINT, TASK and --out are needed (or --summarize JSON)")
    torch.set_num_threads(1)
    guide = ValueGuide(args.checkpoint, 64, torch.device("cpu"))
    env = SimEnv(args.task, 64, max_steps=args.max_steps)
    guide.set_goal(env.goal_image)
    plan = [(kind, 0.1 * (i % 2) if kind == "scripted" else 0.0, 10_000 + 100 * j + i)
            for j, kind in enumerate(("scripted", "play", "random")) for i in range(args.episodes)]
    runs = [episode(env, k, n, s, guide) for k, n, s in plan]
    env.close()
    summary = summarize(runs)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    colors = {"scripted": "tab:green", "play": "tab:brown", "random": "tab:gray"}
    for r in runs:
        v, s = np.array(r["values"]), np.array(r["success"])
        label = f"{r['kind']} (mean order acc. {summary[r['kind']]['temporal_order_accuracy']:.2f})"
        line, = ax.plot(v, color=colors[r["kind"]], alpha=0.8, label=label if r["seed"] % 100 == 0 else None)
        if s.any():
            ax.plot(np.flatnonzero(s), v[s], ".", color=line.get_color(), markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("V(s_t, g*)")
    ax.set_title(f"{args.task}: value toward the task's goal image (dots: task achieved)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    args.out.with_suffix(".json").write_text(json.dumps({"summary": summary, "episodes": runs}))
    for r in runs:
        print(f"{r['kind']:9s} noise {r['noise']:.1f}: V {r['values'][0]:7.2f} -> {r['values'][-1]:7.2f}, success "
              f"{any(r['success'])}, temporal-order accuracy toward g* {r['temporal_order_accuracy']:.3f} "
              f"(pixel distance {r['pixel_order_accuracy']:.3f})")
    print(json.dumps(summary, indent=2))
    warn_peak(summary)


def warn_peak(summary: dict) -> None:
    s = summary.get("scripted", {})
    if s.get("first_step_above_success") is not None:
        print(f"warning: on the way to the task V rises above its value with the task done ({s['v_at_success']:.2f}) "
              f"in {s['attempts_above_success']} scripted attempts, first at step ~{s['first_step_above_success']:.0f} "
              f"(first success at ~{s['first_success_step']:.0f}; peak {s['v_peak_before_success']:.2f}): a reward "
              "shaped by this value pays more for those earlier states than for the task done")


if __name__ == "__main__":
    main()
