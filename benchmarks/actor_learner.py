"""Control-period jitter of the real-robot loop while a learner trains beside it: actor and learner apart.

    python benchmarks/actor_learner.py [--seconds 60]

Processes on loopback: the RealSense node replaying 640x480 frames at 30 Hz through librealsense's software
device (the camera a real set-up has), the simulated Franka (state only), the safety supervisor, a probe on the robot's command topic (benchmarks/ros_loop.py's), and for each phase a
`viva-robot learner --backend ros` and a `viva-robot actor` (pixels+state SAC, small encoder, batch 256) as two
more processes. The figure is the period between consecutive commands reaching the arm (p50, p99, max) over
`--seconds` of one long episode (the env's default `command_timing: on_tick`), in three phases of one run:
  utd 1 / utd 4: the learner runs pixel updates at 1 and 4 per step received, as fast as its core allows;
  baseline (last, so that no phase runs on a machine still starting up): the same, with `--utd 0`: the learner
  takes the steps in and makes no updates; the actor alone sets the rate.
Each phase starts measuring 10 s after its learner's first metrics line (past the reset and the random steps).
Target: p99 within 10% of the nominal 100 ms while the learner trains (and the ratio to the baseline's p99).
The learner's achieved updates per second are printed beside it: on a CPU they fall short of the actor's 10 steps
per second times the UTD, which is the point of the split: the arm never waits for them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ros_loop import DOMAIN, LIMITS, ROOT, start, start_probe, stop, write_replay_dataset  # noqa: E402

ROBOT = ROOT / "configs/robot/sim-franka.yaml"


def viva(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "viva_robot.cli", "-q", *args], stdout=open(log, "a"),
                            stderr=subprocess.STDOUT, env={**os.environ, "ROS_DOMAIN_ID": DOMAIN, "OMP_NUM_THREADS": "1"})


def phase(name: str, utd: int, random_steps: int, seconds: float, tmp: Path, port: int) -> dict:
    log = tmp / f"{name}.log"
    records = tmp / f"{name}.npy"
    probe = start_probe("/target_pose", records, tmp / "probe.log")
    run = tmp / f"run-{name}"
    learner = viva("learner", "--backend", "ros", "--robot", str(ROBOT), "--goal-image", str(tmp / "goal.png"),
                   "--obs", "pixels+state", "--encoder", "small", "--utd", str(utd), "--random-steps", str(random_steps),
                   "--steps", "1000000", "--max-steps", "100000", "--batch-size", "256", "--log-every", "50",
                   "--device", "cpu", "--threads", "1", "--bind", f"tcp://127.0.0.1:{port}", "--out", str(run), log=log)
    actor = viva("actor", "--learner", f"tcp://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + 120
        while not (run / "metrics.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(10.0)  # past the first reset and the random steps: the learner is updating
        t0 = time.time()
        time.sleep(seconds)
        t1 = time.time()
    finally:
        stop(actor)
        stop(learner)
        time.sleep(1.0)
        stop(probe)
    got = np.load(records)
    arrivals = got[(got[:, 0] >= t0) & (got[:, 0] <= t1), 0]
    periods_ms = np.diff(arrivals) * 1e3
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()] if (run / "metrics.jsonl").exists() else []
    train = [r for r in rows if r["kind"] == "train"]
    updates_per_s = ((train[-1]["updates"] - train[0]["updates"]) / max(train[-1]["wall_s"] - train[0]["wall_s"], 1e-9)
                     if len(train) >= 2 else 0.0)
    return {"commands": int(len(arrivals)), "p50_ms": float(np.percentile(periods_ms, 50)),
            "p99_ms": float(np.percentile(periods_ms, 99)), "max_ms": float(periods_ms.max()),
            "updates_per_s": float(updates_per_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds per phase")
    ap.add_argument("--phases", nargs="+", default=["utd1", "utd4", "baseline"], choices=["utd1", "utd4", "baseline"])
    args = ap.parse_args()
    os.environ["ROS_DOMAIN_ID"] = DOMAIN
    from PIL import Image

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(os.environ.get("VIVA_BENCH_TMP", d))
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp / "goal.png")
        log = tmp / "nodes.log"
        write_replay_dataset(tmp / "replay.zarr")
        camera = start("viva_robot.ros.camera", f"replay:={tmp / 'replay.zarr'}", "fps:=30", log=log)
        sim = start("viva_robot.ros.sim_robot", "publish_image:=false", log=log)
        sup = start("viva_robot.ros.supervisor", f"limits_file:={LIMITS}", f"audit_log:={tmp / 'audit.jsonl'}",
                    "frame_id:=panda0_link0", log=log)
        results = {}
        try:
            time.sleep(3.0)
            phases = {"utd1": (1, 20), "utd4": (4, 20), "baseline": (0, 20)}
            for i, name in enumerate(args.phases):
                utd, random_steps = phases[name]
                results[name] = r = phase(name, utd, random_steps, args.seconds, tmp, 5700 + i)
                print(f"{name}: {r['commands']} commands, period p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms "
                      f"(max {r['max_ms']:.1f}); learner {r['updates_per_s']:.1f} pixel updates/s", flush=True)
        finally:
            for p in (camera, sim, sup):
                stop(p)
        base = results.get("baseline", {}).get("p99_ms", float("nan"))
        for name in [n for n in ("utd1", "utd4") if n in results]:
            p99 = results[name]["p99_ms"]
            print(f"{name}: p99 period {p99:.1f} ms = {p99 / base:.2f}x the no-learner baseline's {base:.1f} ms; "
                  f"within 10% of the nominal 100 ms: {'met' if p99 <= 110.0 else 'NOT met'}")
        print(json.dumps(results))


if __name__ == "__main__":
    main()
