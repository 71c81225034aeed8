"""The hardware loop across processes on loopback: image-in to command-out latency, dropped commands, and a
fuzz of the safety supervisor over DDS.

    python benchmarks/ros_loop.py [--seconds 300] [--fuzz 100000]

Processes: the camera node replaying 640x480 frames at 30 Hz through librealsense's software device, the
simulated Franka (state only, its camera off), the safety supervisor, a probe subscribed to the robot's command
topic, and this script as the agent: `RosEnv` + the SAC actor (small CPU encoder, pixels+state) acting at 10 Hz.
Every target carries the arrival stamp of the frame it was computed from and the supervisor keeps it on the
command, so the probe measures frame arrival in the agent -> policy -> supervisor -> robot topic.

Baseline in the same run: the same agent publishing straight to the probe (no supervisor), so the ratio is the
supervisor's share. Targets: p99 < 20 ms through the supervisor, zero dropped commands.
Fuzz: `--fuzz N` random and adversarial targets (huge, NaN/inf, zero quaternions, just outside a face) at up to
1000/s into a supervisor without a rate limit; the probe checks every command it receives: inside the box,
within the tilt limit, at most one step from the previous command.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = os.environ.get("ROS_DOMAIN_ID", "77")
LIMITS = ROOT / "calibration/sim-franka-workspace.yaml"


def start(module: str, *params: str, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", module, "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT,
                            env={**os.environ, "ROS_DOMAIN_ID": DOMAIN, "OMP_NUM_THREADS": "1"})


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- the probe: a separate process on the command topic --------------------------------------------------------------
def probe(topic: str, out: Path) -> None:
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile

    from viva_robot.ros.messages import pose_from_msg, stamp_to_s

    from rclpy.signals import SignalHandlerOptions

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C (SIGINT from the benchmark) is ours
    node = rclpy.create_node("viva_bench_probe")
    records = []

    def on_command(msg: PoseStamped) -> None:
        now = node.get_clock().now().nanoseconds * 1e-9
        p, q = pose_from_msg(msg)
        records.append([now, stamp_to_s(msg.header.stamp), *p, *q])

    node.create_subscription(PoseStamped, topic, on_command, QoSProfile(depth=1000))
    running = [True]
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    while running[0]:  # spin in slices: a blocking spin would not see the signal
        rclpy.spin_once(node, timeout_sec=0.05)
    np.save(out, np.array(records, dtype=np.float64).reshape(-1, 9))
    node.destroy_node()
    rclpy.try_shutdown()


def start_probe(topic: str, out: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--probe", topic, str(out)], stdout=open(log, "a"),
                            stderr=subprocess.STDOUT, env={**os.environ, "ROS_DOMAIN_ID": DOMAIN})


# -- the agent -------------------------------------------------------------------------------------------------------
def agent_phase(target_topic: str, seconds: float, tmp: Path, name: str) -> dict:
    import torch

    from viva_robot.rl.config import TrainConfig
    from viva_robot.robot.config import load_robot_config
    from viva_robot.rl.train import agent_obs, build_agent
    from viva_robot.envs.ros import RosEnv
    from viva_robot.ros.messages import stamp_to_s

    torch.set_num_threads(1)
    records = tmp / f"{name}.npy"
    probe_proc = start_probe("/target_pose" if target_topic == "/viva/target_pose" else target_topic, records,
                             tmp / "probe.log")
    time.sleep(2.0)
    robot = load_robot_config(ROOT / "configs/robot/sim-franka.yaml",
                              {"target_topic": target_topic, "max_steps": 10**9, "reset_service": "",
                               "command_timing": "on_frame"})  # a command as soon as its frame is acted on
    env = RosEnv(robot)
    goal = tmp / "goal.png"
    from PIL import Image

    Image.fromarray(env.render()).save(goal)
    cfg = TrainConfig(backend="ros", robot=ROOT / "configs/robot/sim-franka.yaml", goal_image=goal, out=tmp / "unused",
                      obs="pixels+state", encoder="small", device="cpu")
    agent = build_agent(cfg, env, None, torch.device("cpu"))
    obs, _ = env.reset()
    sent, faults, t_end = [], 0, time.monotonic() + seconds
    while time.monotonic() < t_end:
        action = agent.act(agent_obs(obs, cfg.obs), eval_mode=True)
        stamp = env._obs_stamp
        obs, _, _, truncated, info = env.step(action)
        sent.append(stamp_to_s(stamp))
        faults += "fault" in info
    env.close()
    time.sleep(1.0)
    stop(probe_proc)
    got = np.load(records)
    sent_us, received_us = np.round(np.array(sent) * 1e6), np.round(got[:, 1] * 1e6)  # stamps to the microsecond
    matched = got[np.isin(received_us, sent_us)]
    latency_ms = (matched[:, 0] - matched[:, 1]) * 1e3
    return {"steps": len(sent), "seconds": seconds, "faults": faults,
            "dropped": int((~np.isin(sent_us, received_us)).sum()),
            "p50_ms": float(np.percentile(latency_ms, 50)), "p99_ms": float(np.percentile(latency_ms, 99)),
            "max_ms": float(latency_ms.max())}


# -- the fuzz --------------------------------------------------------------------------------------------------------
def fuzz_phase(n: int, tmp: Path, log: Path) -> dict:
    import rclpy
    import yaml
    from geometry_msgs.msg import PoseStamped

    from viva_robot.robot.geometry import quat_angle
    from viva_robot.robot.safety import load_limits
    from viva_robot.ros.messages import pose_to_msg

    limits = yaml.safe_load(LIMITS.read_text())
    limits.update(max_rate_hz=1e6, stale_after_s=5.0)  # every target is judged on position and step alone
    fuzz_limits = tmp / "fuzz-limits.yaml"
    fuzz_limits.write_text(yaml.safe_dump(limits))
    lim = load_limits(fuzz_limits)
    sup = start("viva_robot.ros.supervisor", f"limits_file:={fuzz_limits}", f"audit_log:={tmp / 'fuzz-audit.jsonl'}",
                "target_topic:=/bench/fuzz_target", "command_topic:=/bench/fuzz_command", "estop_topic:=/bench/estop",
                "frame_id:=panda0_link0", log=log)
    records = tmp / "fuzz.npy"
    probe_proc = start_probe("/bench/fuzz_command", records, tmp / "probe.log")
    time.sleep(4.0)
    rclpy.init()
    node = rclpy.create_node("viva_bench_fuzzer")
    pub = node.create_publisher(PoseStamped, "/bench/fuzz_target", 1000)
    rng, lo, hi = np.random.default_rng(0), np.array(lim.workspace_min), np.array(lim.workspace_max)
    t0 = time.monotonic()
    for i in range(n):
        kind = i % 6
        p = [rng.uniform(-10, 10, 3), rng.uniform(lo, hi), np.where(rng.random(3) < 0.5, lo, hi) + 1e-7,
             np.array([np.nan, 0.3, np.inf]), rng.uniform(-1e9, 1e9, 3), hi + rng.uniform(0, 1, 3)][kind]
        q = [rng.normal(size=4), np.zeros(4), np.array(lim.nominal_orientation) * -1, rng.normal(size=4) * 1e6][i % 4]
        pub.publish(pose_to_msg(p, q, node.get_clock().now().to_msg(), "panda0_link0"))
        time.sleep(max(0.0, t0 + (i + 1) / 1000.0 - time.monotonic()))
    publish_s = time.monotonic() - t0
    time.sleep(2.0)
    node.destroy_node()
    rclpy.try_shutdown()
    stop(probe_proc)
    stop(sup)
    got = np.load(records)
    pos, quat = got[:, 2:5], got[:, 5:9]
    outside = int((~((pos >= lo - 1e-9) & (pos <= hi + 1e-9)).all(1)).sum())
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    too_far = int((steps > lim.max_translation_m + 1e-9).sum())
    tilt = int(sum(quat_angle(q, np.array(lim.nominal_orientation)) > lim.max_tilt_rad + 1e-6 for q in quat))
    return {"targets": n, "publish_s": publish_s, "commands_received": len(got), "outside_box": outside,
            "beyond_step_limit": too_far, "beyond_tilt_limit": tilt, "non_finite": int((~np.isfinite(got[:, 2:])).sum())}


def write_replay_dataset(path: Path, frames: int = 60) -> None:
    from viva_robot.data.dataset import DatasetWriter, Episode

    rng = np.random.default_rng(0)
    w = DatasetWriter(path, source="bench:ros_loop", fps=30.0, resolution=(480, 640))
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    w.append(Episode(rgb=np.stack([np.roll(base, 8 * k, axis=1) for k in range(frames)]), key="replay"))


def latency_phases(args, tmp: Path) -> tuple[dict, dict]:
    base = agent_phase("/bench/direct", args.baseline_seconds, tmp, "direct")
    print(f"baseline (agent -> robot topic, no supervisor), {base['steps']} steps: p50 {base['p50_ms']:.1f} ms, "
          f"p99 {base['p99_ms']:.1f} ms, dropped {base['dropped']}")
    full = agent_phase("/viva/target_pose", args.seconds, tmp, "supervised")
    print(f"image-in -> command-out through the supervisor, 10 Hz control, 30 Hz 640x480 frames, "
          f"{full['steps']} steps in {full['seconds']:.0f} s ({full['steps'] / full['seconds']:.1f} steps/s): "
          f"p50 {full['p50_ms']:.1f} ms, p99 {full['p99_ms']:.1f} ms (max {full['max_ms']:.1f}), "
          f"dropped commands {full['dropped']}, faults {full['faults']}")
    print(f"ratio p99 supervised / baseline: {full['p99_ms'] / base['p99_ms']:.2f}x "
          f"(target p99 < 20 ms: {'met' if full['p99_ms'] < 20 else 'NOT met'}; "
          f"zero dropped: {'met' if full['dropped'] == 0 else 'NOT met'})")
    return base, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="length of the measured (supervised) phase; 0 skips the latency phases")
    ap.add_argument("--baseline-seconds", type=float, default=60.0, help="length of the no-supervisor phase")
    ap.add_argument("--fuzz", type=int, default=100_000, help="targets in the fuzz phase (0 skips it)")
    ap.add_argument("--probe", nargs=2, metavar=("TOPIC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        return probe(args.probe[0], Path(args.probe[1]))
    os.environ["ROS_DOMAIN_ID"] = DOMAIN
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(os.environ.get("VIVA_BENCH_TMP", d))
        write_replay_dataset(tmp / "replay.zarr")
        log = tmp / "nodes.log"
        camera = start("viva_robot.ros.camera", f"replay:={tmp / 'replay.zarr'}", "fps:=30", log=log)
        sim = start("viva_robot.ros.sim_robot", "publish_image:=false", log=log)
        sup = start("viva_robot.ros.supervisor", f"limits_file:={LIMITS}", f"audit_log:={tmp / 'audit.jsonl'}",
                    "frame_id:=panda0_link0", log=log)
        try:
            time.sleep(3.0)
            base = full = None
            if args.seconds > 0:
                base, full = latency_phases(args, tmp)
            fz = None
            if args.fuzz:  # a second supervisor on its own topics, fed by the same camera and robot state
                fz = fuzz_phase(args.fuzz, tmp, log)
                print(f"fuzz: {fz['targets']} targets in {fz['publish_s']:.0f} s -> {fz['commands_received']} commands "
                      f"on the robot topic: {fz['outside_box']} outside the box, {fz['beyond_step_limit']} beyond the "
                      f"step limit, {fz['beyond_tilt_limit']} beyond the tilt limit, {fz['non_finite']} non-finite values")
        finally:
            for p in (camera, sim, sup):
                stop(p)
        print(json.dumps({"baseline": base, "supervised": full, "fuzz": fz}))


if __name__ == "__main__":
    main()
