"""Simulator collection speed at 64x64: `collect` vs bare rendering of the same frames.

    python benchmarks/collect_speed.py [--episodes 3]

For each of the door and the kitchen microwave, runs `collect` (scripted attempts and play: physics,
policy, rendering, Zarr writes), then re-renders exactly the recorded frames from saved simulator states
with the same renderer and nothing else. Prints frames/s of both and the ratio. Targets: collection
>= 80 frames/s (door) and >= 20 frames/s (kitchen); rendering is the limit, so the ratio should be near 1.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

import viva_robot  # noqa: F401  (chooses headless EGL before mujoco is imported)
from viva_robot.sim.config import CollectConfig
from viva_robot.data.dataset import VideoDataset
from viva_robot.sim.collect import collect
from viva_robot.sim.render import SceneRenderer
from viva_robot.sim.tasks import get_task, make_env

import mujoco  # noqa: E402

TARGETS = {"door": 80, "kitchen-microwave": 20}


def replay_states(task_name: str, ds: VideoDataset, seed: int) -> list[np.ndarray]:
    """Full simulator state of every recorded frame, by replaying the stored actions (physics only)."""
    env = make_env(get_task(task_name))
    model, data = env.unwrapped.model, env.unwrapped.data
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    states = []
    for k in range(ds.num_episodes):
        ep = ds.load_episode(k)
        env.reset(seed=seed + k)
        for action in ep.action:
            state = np.empty(mujoco.mj_stateSize(model, spec))
            mujoco.mj_getState(model, data, state, spec)
            states.append(state)
            if np.isfinite(action).all():
                env.step(action)
    env.close()
    return states


def bare_render(task_name: str, states: list[np.ndarray], size: int) -> float:
    env = make_env(get_task(task_name))
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    with SceneRenderer(model, size, get_task(task_name).camera) as renderer:
        start = time.perf_counter()
        for state in states:
            mujoco.mj_setState(model, data, state, spec)
            mujoco.mj_forward(model, data)
            renderer.render(data)
        elapsed = time.perf_counter() - start
    env.close()
    return len(states) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        for task_name, target in TARGETS.items():
            cfg = CollectConfig(env=task_name, out=Path(tmp) / f"{task_name}.zarr", episodes=args.episodes, size=64,
                                seed=0, scripted_fraction=0.5)
            start = time.perf_counter()
            summary = collect(cfg, progress=False)
            collect_fps = summary["frames_added"] / (time.perf_counter() - start)
            ds = VideoDataset(cfg.out)
            states = replay_states(task_name, ds, 0)
            assert len(states) == ds.num_frames
            bare_fps = bare_render(task_name, states, 64)
            print(f"collect_speed {task_name}: collect {collect_fps:.0f} frames/s (target >= {target}), bare render "
                  f"{bare_fps:.0f} frames/s, ratio {bare_fps / collect_fps:.2f}x ({ds.num_frames} frames)")


if __name__ == "__main__":
    main()
