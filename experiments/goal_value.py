"""Does a value checkpoint rise toward the *task's* goal image (the one `viva-robot train` uses) along
episodes in the live env? The reward signal ViVa gives SAC, looked at before any RL.

    python experiments/goal_value.py runs/microwave-icvf/value.pt kitchen-microwave --out docs/results/microwave-goal-value.png

Runs scripted attempts (noise 0 and 0.1), undirected play and uniform random actions in `SimEnv`, evaluates
V(s_t, g*) on every frame against the env's rendered goal image, plots the curves (success steps marked)
and prints each episode's temporal-order accuracy toward g* (fraction of frame pairs i < j with V_i < V_j).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from viva_robot.envs.sim import SimEnv
from viva_robot.rl.guidance import ValueGuide
from viva_robot.sim.scripts import make_policy
from viva_robot.value.diagnostics import temporal_order_pairs


def episode(env: SimEnv, kind: str, noise: float, seed: int, guide: ValueGuide) -> dict:
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
    values = guide(np.stack(frames))
    ordered, pairs = temporal_order_pairs(values)
    return {"kind": kind, "noise": noise, "seed": seed, "values": values.tolist(), "success": success,
            "temporal_order_accuracy": ordered / max(pairs, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("task")
    ap.add_argument("--out", type=Path, required=True, help="PNG; a JSON with the curves is written beside it")
    ap.add_argument("--max-steps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    guide = ValueGuide(args.checkpoint, 64, torch.device("cpu"))
    env = SimEnv(args.task, 64, max_steps=args.max_steps)
    guide.set_goal(env.goal_image)
    runs = [episode(env, k, n, s, guide) for k, n, s in
            [("scripted", 0.0, 0), ("scripted", 0.1, 1), ("play", 0.0, 2), ("play", 0.0, 3), ("random", 0.0, 4)]]
    env.close()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for r in runs:
        v, s = np.array(r["values"]), np.array(r["success"])
        line, = ax.plot(v, label=f"{r['kind']} noise {r['noise']:g} (order acc. {r['temporal_order_accuracy']:.2f})")
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
    args.out.with_suffix(".json").write_text(json.dumps(runs))
    for r in runs:
        print(f"{r['kind']:9s} noise {r['noise']:.1f}: V {r['values'][0]:7.2f} -> {r['values'][-1]:7.2f}, success "
              f"{any(r['success'])}, temporal-order accuracy toward g* {r['temporal_order_accuracy']:.3f}")


if __name__ == "__main__":
    main()
