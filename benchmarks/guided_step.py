"""Value-guided SAC steps/s on the slide cabinet against a bare physics + render step of the same task.

    python benchmarks/guided_step.py [--steps 1500] [--rounds 2] [--parallel 2]

What one learning-phase step of `viva-robot train --mode viva --obs state` (the paper preset's agent) costs,
measured four ways in one run, each as `--parallel` copies at once (two runs side by side is how the
comparisons run on a 2-core machine):
  bare      physics + camera frame only (the floor a guided step cannot go below)
  issue     the guided loop of the code as it was when issue 12 asked for 2x (commit ISSUE_COMMIT, unpacked from
            this clone's git history and run as it was; skipped outside a git clone): the anchor of the target
  before    today's guided loop with the renderer as it was before issue 12 (full-detail meshes, every geom drawn)
  guided    today's guided loop (decimated meshes)
Loop figures are steps/s of the learning phase of a real `train()` (random steps excluded, no evaluation),
from its own metrics. Rounds alternate the order. Then, in one process, where a guided step's time goes:
physics, render, value, SAC update (batch 256), and the rest (replay, Python). The value is untrained
(its cost does not depend on its weights).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

import viva_robot  # noqa: F401  (headless EGL before mujoco is imported)

TASK = "kitchen-slide-cabinet"
RANDOM_STEPS = 300
ROOT = Path(__file__).resolve().parents[1]
ISSUE_COMMIT = "38876ab"  # main when issue 12 measured ~18 guided steps/s and asked for 2x

# The issue-time loop, run in its own interpreter on the unpacked old package: its own value checkpoint (the format
# has changed since), its own TrainConfig (no init_temperature then), the same run otherwise.
ISSUE_LOOP = """
import json, sys
from pathlib import Path
import torch
import viva_robot
assert Path(viva_robot.__file__).is_relative_to(sys.argv[1]), viva_robot.__file__
from viva_robot.config import PretrainConfig, TrainConfig
from viva_robot.rl.train import train
from viva_robot.value.checkpoint import save_checkpoint
from viva_robot.value.networks import ICVF
out, steps, random_steps = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
value = out.parent / (out.name + "-value.pt")
cfg = PretrainConfig(out=out.parent, data=(out.parent / "none.zarr",), image_size=64, encoder="small")
save_checkpoint(value, step=0, config=cfg, model=ICVF("small", image_size=64))
train(TrainConfig(task="kitchen-slide-cabinet", out=out, mode="viva", value=value, obs="state",
                  steps=random_steps + steps, random_steps=random_steps, max_steps=100, eval_every=10**9,
                  checkpoint_every=10**9, eval_video=False, eval_episodes=1, log_every=100, threads=1), progress=False)
"""


def issue_dir(tmp: Path) -> Path:
    return tmp / f"issue-{ISSUE_COMMIT}"


def issue_tree(tmp: Path) -> Path | None:
    """The package as it was at ISSUE_COMMIT, unpacked into issue_dir(tmp); None where there is no git history."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ISSUE_COMMIT, "viva_robot"], check=True,
                                 capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    dest = issue_dir(tmp)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def learning_rate(out: Path) -> float:
    """Steps/s of the learning phase, from a run's own metrics (first to last logged training row)."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "train"]
    return (rows[-1]["step"] - rows[0]["step"]) / (rows[-1]["wall_s"] - rows[0]["wall_s"])


def make_value(path: Path) -> Path:
    import torch

    from viva_robot.value.config import PretrainConfig
    from viva_robot.value.checkpoint import save_checkpoint
    from viva_robot.value.networks import ICVF

    torch.manual_seed(0)
    cfg = PretrainConfig(out=path.parent, data=(path.parent / "none.zarr",), image_size=64, encoder="small")
    return save_checkpoint(path, step=0, config=cfg, model=ICVF("small", image_size=64))


def worker(kind: str, steps: int, value: Path, out: Path, queue) -> None:
    if kind == "issue":
        tree = issue_dir(out.parent)  # every copy's run directory lies in the benchmark's temp dir
        proc = subprocess.run([sys.executable, "-c", ISSUE_LOOP, str(tree), str(out), str(steps), str(RANDOM_STEPS)],
                              cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
        if proc.returncode != 0:  # the old code against today's dependencies: report it, do not hang the queue
            print(f"the issue-time loop ({ISSUE_COMMIT}) failed:\n{proc.stderr[-2000:]}", flush=True)
        queue.put((kind, learning_rate(out) if proc.returncode == 0 else float("nan")))
        return
    import torch

    from viva_robot.sim import render

    torch.set_num_threads(1)
    if kind == "before":
        render.MAX_MESH_FACES, render.CULL_UNSEEN = None, False
    if kind == "bare":
        from viva_robot.envs.sim import SimEnv

        env = SimEnv(TASK, 64, max_steps=100)
        rng = np.random.default_rng(0)
        env.reset(seed=0)
        start = time.perf_counter()
        for t in range(steps):
            _, _, _, truncated, _ = env.step(rng.uniform(-1, 1, 9).astype(np.float32))
            if truncated:
                env.reset(seed=t)
        queue.put((kind, steps / (time.perf_counter() - start)))
        env.close()
        return
    from viva_robot.rl.config import TrainConfig
    from viva_robot.rl.train import train

    cfg = TrainConfig(task=TASK, out=out, mode="viva", value=value, obs="state", steps=RANDOM_STEPS + steps,
                      random_steps=RANDOM_STEPS, max_steps=100, init_temperature=0.1, eval_every=10**9,
                      checkpoint_every=10**9, eval_video=False, eval_episodes=1, log_every=100, threads=1)
    train(cfg, progress=False)
    queue.put((kind, learning_rate(out)))


def measure(kind: str, steps: int, parallel: int, value: Path, tmp: Path) -> float:
    """Mean steps/s of `parallel` copies run at once."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(kind, steps, value, tmp / f"{kind}{i}", queue)) for i in range(parallel)]
    for p in procs:
        p.start()
    rates = [queue.get(timeout=600 + steps)[1] for _ in procs]  # a crashed copy fails the run, not hangs it
    for p in procs:
        p.join()
    for i in range(parallel):
        shutil.rmtree(tmp / f"{kind}{i}", ignore_errors=True)
    return statistics.mean(rates)


def breakdown(value: Path, reps: int = 300) -> dict[str, float]:
    """ms per guided step by part, in this process (nothing else of ours running)."""
    import torch

    from viva_robot.envs.sim import SimEnv
    from viva_robot.value.guide import ValueGuide
    from viva_robot.rl.replay import ReplayBuffer
    from viva_robot.rl.sac import SAC, ObsEncoder
    from viva_robot.rl.train import agent_obs

    torch.set_num_threads(1)
    env = SimEnv(TASK, 64, max_steps=100)
    guide = ValueGuide(value, 64, torch.device("cpu"))
    guide.set_goal(env.goal_image)
    obs, _ = env.reset(seed=0)
    a_obs = agent_obs(obs, "state")
    dim = a_obs["state"].shape[0]
    agent = SAC(ObsEncoder(None, dim, 50, 0), 9, init_temperature=0.1)
    replay = ReplayBuffer({"state": ((dim,), np.float32)}, 9, 10_000)
    rng = np.random.default_rng(0)
    replay.start(a_obs)
    for _ in range(1000):
        replay.add(rng.uniform(-1, 1, 9).astype(np.float32), 0.0, a_obs, False)
    parts = {"physics": 0.0, "render": 0.0, "value": 0.0, "update": 0.0, "replay + act": 0.0}
    inner = env._env
    for _ in range(reps):
        t0 = time.perf_counter()
        action = agent.act(a_obs)
        t1 = time.perf_counter()
        flat, *_ = inner.step(action)
        t2 = time.perf_counter()
        frame = env.render()
        t3 = time.perf_counter()
        v = guide(frame)
        t4 = time.perf_counter()
        replay.add(action, -1.0 + 0.001 * v, a_obs, False)
        batch = replay.sample(256, rng, 0.99, agent.device)
        t5 = time.perf_counter()
        agent.update(batch)
        t6 = time.perf_counter()
        parts["physics"] += t2 - t1
        parts["render"] += t3 - t2
        parts["value"] += t4 - t3
        parts["replay + act"] += (t1 - t0) + (t5 - t4)
        parts["update"] += t6 - t5
    env.close()
    return {k: 1e3 * v / reps for k, v in parts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500, help="learning-phase steps per measurement")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=2, help="copies run at once per measurement")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="guided-bench-"))
    value = make_value(tmp / "value" / "value.pt")
    rates: dict[str, list[float]] = {"bare": [], "issue": [], "before": [], "guided": []}
    if issue_tree(tmp) is None:
        print(f"no git history here ({ISSUE_COMMIT} not found): the issue-time loop is not measured")
        del rates["issue"]
    order = list(rates)
    for r in range(args.rounds):
        for kind in order if r % 2 == 0 else order[::-1]:
            rates[kind].append(measure(kind, args.steps, args.parallel, value, tmp))
            print(f"round {r}: {kind:7s} {rates[kind][-1]:6.1f} steps/s per run ({args.parallel} at once)", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\nslide cabinet, 64x64 frames, {args.parallel} runs at once, median of {args.rounds} rounds (steps/s per run):")
    print(f"  bare physics + render       {med['bare']:6.1f}")
    if "issue" in med:
        print(f"  guided loop at {ISSUE_COMMIT}      {med['issue']:6.1f}   (the code when issue 12 asked for 2x)")
    print(f"  guided loop, old renderer   {med['before']:6.1f}   (full meshes, every geom drawn)")
    print(f"  guided loop                 {med['guided']:6.1f}   {med['guided'] / med['before']:.2f}x the old-renderer loop; "
          f"{med['guided'] / med['bare']:.2f}x the bare step's rate")
    if "issue" in med:
        ratio = med["guided"] / med["issue"]
        print(f"  today's guided loop / the issue-time loop: {ratio:.2f}x (target >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    parts = breakdown(value)
    total = sum(parts.values())
    print(f"\none guided step alone in this process: {total:.1f} ms = " +
          ", ".join(f"{k} {v:.1f} ms ({v / total:.0%})" for k, v in parts.items()))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
