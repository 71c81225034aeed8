"""The hardware path across real processes over real DDS: simulated Franka + safety supervisor as separate
processes, the env backend (the agent's side) in the test process. Faults are real too: processes are stopped
(SIGSTOP: a stalled driver), killed and restarted, and a foreign publisher joins the command topic."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

DOMAIN = "117"  # keep this module's DDS traffic away from other tests
os.environ["ROS_DOMAIN_ID"] = DOMAIN

import rclpy  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from viva_robot.robot.config import load_robot_config  # noqa: E402
from viva_robot.robot.safety import load_limits  # noqa: E402
from viva_robot.envs.ros import RobotError, RosEnv  # noqa: E402
from viva_robot.ros.messages import pose_from_msg, pose_to_msg, s_to_stamp  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LIMITS = ROOT / "calibration/sim-franka-workspace.yaml"
ROBOT = ROOT / "configs/robot/sim-franka.yaml"
BASE = "panda0_link0"  # the simulated robot's base frame, which its poses name and every target must name
pytestmark = pytest.mark.slow


def start(name: str, *params: str, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", f"viva_robot.ros.{name}", "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    env = {**os.environ, "ROS_DOMAIN_ID": DOMAIN, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT, env=env)


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def start_supervisor(tmp: Path, *params: str, log: Path | None = None) -> subprocess.Popen:
    return start("supervisor", f"limits_file:={LIMITS}", f"audit_log:={tmp / 'audit.jsonl'}", f"frame_id:={BASE}",
                 *params, log=log or tmp / "supervisor.log")


@pytest.fixture(scope="module")
def procs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ros")
    p = {"tmp": tmp,
         "sim": start("sim_robot", log=tmp / "sim.log"),
         "supervisor": start_supervisor(tmp)}
    yield p
    for name in ("sim", "supervisor"):
        stop(p[name])


@pytest.fixture(scope="module")
def env(procs):
    env = RosEnv(load_robot_config(ROBOT, {"max_steps": 12, "connect_timeout_s": 60.0}))
    yield env
    env.close()


def wait_status(env, pred, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if env.link.status and pred(env.link.status):
            return env.link.status
        time.sleep(0.005)
    raise AssertionError(f"status never matched; last: {env.link.status}")


def position(env) -> np.ndarray:
    with env.link.lock:
        return env.link.pose[0].copy()


def test_episodes_complete_through_the_env_interface(env):
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True, skip_close_check=True)  # both would build a second env from the spec
    for episode in range(2):
        obs, info = env.reset(seed=episode)
        assert np.linalg.norm(obs["state"][:3] - np.array(env.cfg.home_position)) < env.cfg.home_tolerance_m + 0.01
        assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8 and info["success"] is False
        start_x, frames = obs["state"][0], [obs["image"]]
        for t in range(12):
            obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
            frames.append(obs["image"])
            assert reward == 0.0 and not terminated and "fault" not in info
            assert truncated == (t == 11)
        # 12 steps of +2 cm: the arm moved along +x without sagging, and the camera saw it move
        assert obs["state"][0] - start_x > 0.15, obs["state"][:3]
        assert abs(obs["state"][2] - env.cfg.home_position[2]) < 0.03
        assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 1.0
    with pytest.raises(ValueError, match=r"ros: action contains NaN or inf"):
        env.step(np.array([np.nan, 0, 0, 0], np.float32))
    with pytest.raises(ValueError, match=r"ros: action has shape \(3,\), expected \(4,\)"):
        env.step(np.zeros(3, np.float32))


def test_out_of_box_and_nan_targets_never_reach_the_robot(env, procs):
    """Adversarial targets on the supervisor's input: every command on the robot topic is inside the box and
    within one step of the previous one."""
    limits = load_limits(LIMITS)
    env.reset()
    node, commands = env.link.node, []
    sub = node.create_subscription(PoseStamped, "/target_pose", lambda m: commands.append(pose_from_msg(m)[0]), 10)
    pub = node.create_publisher(PoseStamped, "/viva/target_pose", 10)
    rng = np.random.default_rng(0)
    for i in range(60):
        target = rng.choice([rng.uniform(-5, 5, 3), np.array([np.nan, 0.1, 0.2]), np.array([10.0, -10.0, 10.0]),
                             np.array([np.inf, 0, 0])])
        pub.publish(pose_to_msg(target, env.cfg.home_orientation, node.get_clock().now().to_msg(), BASE))
        time.sleep(0.04)
    time.sleep(0.3)
    node.destroy_subscription(sub)
    node.destroy_publisher(pub)
    sent = np.array(commands)
    assert len(sent) > 20
    assert (sent >= np.array(limits.workspace_min) - 1e-9).all() and (sent <= np.array(limits.workspace_max) + 1e-9).all()
    assert (np.linalg.norm(np.diff(sent, axis=0), axis=1) <= limits.max_translation_m + 1e-9).all()
    counts = wait_status(env, lambda s: s["counts"].get("workspace", 0) > 0, 2.0)["counts"]
    assert counts.get("non-finite or malformed target", 0) > 0
    audit = [json.loads(line) for line in (procs["tmp"] / "audit.jsonl").read_text().splitlines()]
    assert any(a["action"] == "rejected" and a["reasons"] == ["non-finite or malformed target"] for a in audit)
    m = limits.start_margin_m  # the arm tracks a clipped target with millimetres of overshoot
    assert all(np.all(np.array(limits.workspace_min) - m <= p) and np.all(p <= np.array(limits.workspace_max) + m)
               for p in position_samples(env, 5))


def test_targets_and_poses_in_another_frame_or_out_of_time_are_refused_with_the_reason(env, procs):
    """A careless or hostile publisher: targets naming another frame, stamped long ago, stamped in the future
    (limits: 0.5 s old, 0.1 s ahead) and robot poses in another frame: none moves the arm, each is counted
    under its reason and the newest one's detail is in the status."""
    env.reset()
    node = env.link.node
    commands = []
    sub = node.create_subscription(PoseStamped, "/target_pose", lambda m: commands.append(pose_from_msg(m)[0]), 10)
    pub = node.create_publisher(PoseStamped, "/viva/target_pose", 10)
    fake_pose = node.create_publisher(PoseStamped, "/franka_robot_state_broadcaster/current_pose", qos_profile_sensor_data)
    env.link.wait_for(lambda: pub.get_subscription_count() > 0, 5.0, "supervisor on /viva/target_pose")
    far = np.array(env.cfg.home_position) + [0.1, 0.0, 0.0]
    now = lambda: node.get_clock().now().nanoseconds * 1e-9  # noqa: E731
    cases = [("target in another frame", lambda: pose_to_msg(far, env.cfg.home_orientation, s_to_stamp(now()), "world"),
              r"target in frame 'world', expected the base frame 'panda0_link0'$"),
             ("stale target stamp", lambda: pose_to_msg(far, env.cfg.home_orientation, s_to_stamp(now() - 2.0), BASE),
              r"target stamped 2\.\d{3} s ago \(limit max_message_age_s 0.5 s\)$"),
             ("target stamp in the future", lambda: pose_to_msg(far, env.cfg.home_orientation, s_to_stamp(now() + 1.0),
                                                                BASE),
              r"target stamped (0\.9\d{2}|1\.000) s in the future \(limit max_clock_skew_s 0.1 s\): are the clocks synchronised\?$"),
             ("stale target stamp", lambda: pose_to_msg(far, env.cfg.home_orientation, Time(), BASE), "target has no stamp$")]
    before = position(env)
    for key, make, detail in cases:
        n0 = env.link.status["counts"].get(key, 0)
        for _ in range(5):
            pub.publish(make())
            time.sleep(0.04)
        status = wait_status(env, lambda s: s["counts"].get(key, 0) >= n0 + 5, 2.0)
        assert re.match(detail, status["refused"]), status["refused"]
    fake_pose.publish(pose_to_msg(far, env.cfg.home_orientation, node.get_clock().now().to_msg(), "camera_link"))
    status = wait_status(env, lambda s: s["counts"].get("robot pose in another frame", 0) >= 1, 2.0)
    assert status["refused"] == "robot pose in frame 'camera_link', expected the base frame 'panda0_link0'"
    assert status["state"] == "ok"  # the real poses keep flowing: refusals do not stop the arm, they just do nothing
    assert env.link.bad_poses >= 1  # the env does not take it as the measured pose either
    time.sleep(0.2)
    assert commands == [] and position(env)[0] - before[0] < 0.005  # nothing went out; no move toward `far` (+x)
    audit = [json.loads(line) for line in (procs["tmp"] / "audit.jsonl").read_text().splitlines()]
    assert any(a["action"] == "refused" and a["reasons"] == ["target in frame 'world', expected the base frame "
                                                             "'panda0_link0'"] for a in audit)
    # the env's own target, computed from a frame now seconds old, is refused as stale; the env ends the episode
    # at the first status with more refusals than at its reset (the ones above count too), saying why
    obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    assert truncated and info["fault"].startswith("the supervisor refused a target: "), info
    wait_status(env, lambda s: re.match(r"target stamped \d\.\d{3} s ago", s["refused"]), 2.0)
    # fresh frames, fresh targets: the arm moves again
    env.reset()
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
        assert "fault" not in info, info
    assert commands and position(env)[0] - before[0] > 0.01
    for e in (sub, pub, fake_pose):
        (node.destroy_subscription if e is sub else node.destroy_publisher)(e)


def position_samples(env, n):
    out = []
    for _ in range(n):
        out.append(position(env))
        time.sleep(0.05)
    return out


def test_estop_latches_until_the_release_service(env):
    env.reset()
    node = env.link.node
    estop = node.create_publisher(Bool, "/viva/estop", 10)
    env.link.wait_for(lambda: estop.get_subscription_count() > 0, 5.0, "supervisor on /viva/estop")
    estop.publish(Bool(data=True))
    wait_status(env, lambda s: s["state"] == "estop", 2.0)
    before = position(env)
    for _ in range(10):
        env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    estop.publish(Bool(data=False))  # a False on the topic does not release
    for _ in range(5):
        env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    assert np.linalg.norm(position(env) - before) < 0.01
    assert env.link.status["state"] == "estop"
    client = node.create_client(Trigger, "/viva/release_estop")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    env.link.wait_for(future.done, 5.0, "release service")
    assert future.result().success
    wait_status(env, lambda s: s["state"] == "ok", 2.0)
    for _ in range(5):
        env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    assert position(env)[0] - before[0] > 0.05
    node.destroy_publisher(estop)
    node.destroy_client(client)


def test_a_stalled_robot_is_held_within_one_control_period_and_recovers(env, procs):
    limits = load_limits(LIMITS)
    env.reset()
    period = 1.0 / env.cfg.control_hz
    procs["sim"].send_signal(signal.SIGSTOP)  # the driver freezes: no frames, no state
    stalled = time.monotonic()
    wait_status(env, lambda s: s["state"] == "hold", limits.stale_after_s + period + 0.5)
    held_after = time.monotonic() - stalled
    obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    assert truncated and "no fresh camera frame on /camera/camera/color/image_raw" in info["fault"]
    assert "supervisor holds the arm (status: hold)" in info["fault"]
    procs["sim"].send_signal(signal.SIGCONT)
    status = wait_status(env, lambda s: s["state"] == "ok", 5.0)
    assert status["counts"].get("resync", 0) >= 1
    # the watchdog (50 Hz) noticed within the stale limit plus one control period
    assert held_after <= limits.stale_after_s + period + 0.3, held_after
    obs, info = env.reset()
    obs, *_ = env.step(np.zeros(4, np.float32))
    assert obs["image"].shape == (64, 64, 3)


def test_restarted_nodes_recover(env, procs):
    env.reset()
    # supervisor killed mid-episode: nothing reaches the robot, which keeps its last target
    stop(procs["supervisor"])
    before = position(env)
    for _ in range(5):
        env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    assert np.linalg.norm(position(env) - before) < 0.01
    restarted = time.time()
    procs["supervisor"] = start_supervisor(procs["tmp"])
    wait_status(env, lambda s: s["state"] == "ok" and s["t"] > restarted, 30.0)  # the new one's
    obs, info = env.reset()
    for _ in range(5):
        obs, *_ = env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    assert obs["state"][0] - env.cfg.home_position[0] > 0.05
    # simulated robot killed and restarted: the episode ends with a fault, the next reset works
    procs["sim"].kill()
    procs["sim"].wait()
    *_, truncated, info = env.step(np.zeros(4, np.float32))
    assert truncated and "fault" in info
    procs["sim"] = start("sim_robot", log=procs["tmp"] / "sim.log")
    env.link.wait_for(lambda: env.link.image_t > time.monotonic() - 0.05, 60.0, "restarted sim")
    obs, info = env.reset()
    assert np.linalg.norm(obs["state"][:3] - np.array(env.cfg.home_position)) < 0.03


def test_a_foreign_publisher_on_the_command_topic_latches_the_estop(env):
    env.reset()
    node = env.link.node
    rogue = node.create_publisher(PoseStamped, "/target_pose", 10)
    status = wait_status(env, lambda s: s["state"] == "estop", 5.0)
    assert "1 other publisher(s) on /target_pose" in status["reason"]
    node.destroy_publisher(rogue)
    time.sleep(0.5)
    assert env.link.status["state"] == "estop"  # still latched: only the service releases it
    client = node.create_client(Trigger, "/viva/release_estop")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    env.link.wait_for(future.done, 5.0, "release service")
    wait_status(env, lambda s: s["state"] == "ok", 2.0)
    node.destroy_client(client)


def test_no_robot_gives_a_clear_error(monkeypatch):
    cfg = load_robot_config(ROBOT, {"connect_timeout_s": 1.0, "joint_states_topic": "/nobody/joint_states"})
    with pytest.raises(RobotError, match=r"no robot state on /nobody/joint_states and .* within 1.0 s"):
        RosEnv(cfg)


def test_goal_capture_train_and_run_on_the_ros_backend(env, tmp_path, capsys):
    from PIL import Image as PILImage

    from viva_robot.cli import main

    goal = tmp_path / "goal.png"
    assert main(["goal", "capture", "--robot", str(ROBOT), "--out", str(goal)]) == 0
    assert np.asarray(PILImage.open(goal)).shape == (64, 64, 3)
    run = tmp_path / "run"
    assert main(["train", "--backend", "ros", "--robot", str(ROBOT), "--goal-image", str(goal), "--obs", "pixels+state",
                 "--steps", "24", "--random-steps", "12", "--max-steps", "12", "--batch-size", "8", "--hidden", "32", "32",
                 "--eval-every", "1000", "--eval-episodes", "1", "--checkpoint-every", "12", "--device", "cpu",
                 "--out", str(run), "-q"]) == 0, capsys.readouterr().err
    episodes = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    episodes = [m for m in episodes if m["kind"] == "episode"]
    assert len(episodes) == 2 and all(m["length"] == 12 for m in episodes)
    # the learner (this process) trained on what a separate actor process sent over ZeroMQ: all 24 steps, in order
    from viva_robot.rl.train import load_train_checkpoint

    progress = load_train_checkpoint(run / "checkpoints" / "step_00000024.pt")["progress"]
    assert progress["received"] == 24 and progress["updates"] == 12 and progress["actor"]
    assert main(["run", "--backend", "ros", "--robot", str(ROBOT), "--policy", str(run), "--episodes", "1"]) == 0
    result = json.loads(capsys.readouterr().out.split("run directory:")[-1].strip().split("\n", 1)[-1])
    assert result["episodes"] == 1 and result["step"] == 24
    assert Path(result["video"]).name == "run_ros_cmd_step_00000024_seed1000000.mp4" and Path(result["video"]).is_file()


def twist(x=0.0, y=0.0, z=0.0) -> Twist:
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.linear.z = float(x), float(y), float(z)
    return msg


def test_a_human_intervention_drives_the_arm_is_flagged_and_bounded(env):
    """Twists on /viva/teleop replace the policy's action while they keep coming; out-of-limit ones are refused
    and counted by the env and in the supervisor's status; recordings flag the steps a human drove."""
    env.reset()
    node = env.link.node
    pub = node.create_publisher(Twist, "/viva/teleop", 10)
    env.link.wait_for(lambda: pub.get_subscription_count() >= 2, 5.0, "env and supervisor on /viva/teleop")
    policy = np.array([-1.0, 0.0, 0.0, 1.0], np.float32)  # the policy pushes -x and closes the gripper
    start = position(env)
    for _ in range(6):
        pub.publish(twist(y=0.1))  # the operator: +y at 10 cm/s = 1 cm per 10 Hz step = action 0.5
        env.link.wait_for(lambda: env.link.active_teleop() is not None, 1.0, "the twist")
        obs, reward, terminated, truncated, info = env.step(policy)
        assert info["intervention"] and "fault" not in info, info
        np.testing.assert_allclose(info["action"], [0.0, 0.5, 0.0, -1.0], atol=1e-6)  # gripper kept open
    moved = position(env) - start
    assert moved[1] > 0.03 and moved[0] > -0.01, moved  # the arm followed the human, not the policy
    pub.publish(twist())  # keys released: the policy drives again at once
    time.sleep(0.05)
    obs, reward, terminated, truncated, info = env.step(policy)
    assert not info["intervention"] and info["action"][0] == -1.0
    refused = dict(env.link.teleop_refused)
    for bad in (twist(x=5.0), twist(x=np.nan)):
        pub.publish(bad)
        time.sleep(0.05)
        obs, reward, terminated, truncated, info = env.step(policy)
        assert not info["intervention"]
    assert env.link.teleop_refused["teleop command outside its limits"] == refused.get("teleop command outside its limits", 0) + 1
    assert env.link.teleop_refused["non-finite teleop command"] == refused.get("non-finite teleop command", 0) + 1
    status = wait_status(env, lambda s: s["counts"].get("non-finite teleop command", 0) >= 1, 2.0)
    assert status["counts"]["teleop command outside its limits"] >= 1
    node.destroy_publisher(pub)


def test_an_operator_success_label_ends_the_episode_and_is_the_reward_without_a_detector(procs):
    from viva_robot.cli import main
    from viva_robot.data.dataset import VideoDataset

    labelled = RosEnv(load_robot_config(ROBOT, {"max_steps": 20, "connect_timeout_s": 60.0, "success_topic": ""}))
    try:
        labelled.reset()
        node = labelled.link.node
        label = node.create_publisher(Bool, "/viva/operator/success", 10)
        labelled.link.wait_for(lambda: label.get_subscription_count() >= 1, 5.0, "env on /viva/operator/success")
        for _ in range(3):
            obs, reward, terminated, truncated, info = labelled.step(np.zeros(4, np.float32))
            assert reward == 0.0 and not terminated and not info["label"]
        label.publish(Bool(data=True))
        time.sleep(0.05)
        obs, reward, terminated, truncated, info = labelled.step(np.zeros(4, np.float32))
        assert info["label"] and info["success"] and reward == 1.0 and terminated and not truncated
        labelled.reset()  # a new episode starts unlabelled
        obs, reward, terminated, truncated, info = labelled.step(np.zeros(4, np.float32))
        assert not info["label"] and reward == 0.0
        # a recording stores both flags: the operator drives for a while, then labels a success
        teleop = node.create_publisher(Twist, "/viva/teleop", 10)
        labelled.link.wait_for(lambda: teleop.get_subscription_count() >= 2, 5.0, "env and supervisor on /viva/teleop")
        out = procs["tmp"] / "labelled.zarr"
        import threading

        before = (teleop.get_subscription_count(), label.get_subscription_count())
        labelled.link.wait_for(lambda: teleop.get_subscription_count() == before[0], 5.0, "teleop subscribers")

        def operator():  # once the recorder listens and records (its dataset exists from its first step on)
            labelled.link.wait_for(lambda: (teleop.get_subscription_count(), label.get_subscription_count()) ==
                                   (before[0] + 1, before[1] + 1), 30.0, "the recorder on both topics")
            labelled.link.wait_for(out.exists, 30.0, "the recording to start")
            time.sleep(0.3)
            for _ in range(10):
                teleop.publish(twist(y=0.05))
                time.sleep(0.05)
            teleop.publish(twist())
            label.publish(Bool(data=True))

        t = threading.Thread(target=operator)
        t.start()
        assert main(["record", str(out), "--robot", str(ROBOT), "--episodes", "1", "--steps", "20", "-q"]) == 0
        t.join()
        ep = VideoDataset(out).load_episode(0)
        assert ep.intervention.dtype == bool and 2 <= ep.intervention.sum() <= 10, ep.intervention
        assert ep.label.sum() == 1 and ep.success[np.flatnonzero(ep.label)[0]]
        assert np.flatnonzero(ep.label)[0] > np.flatnonzero(ep.intervention)[-1]
    finally:
        labelled.close()


def split_run(env, tmp_path: Path):
    """What a learner + actor test needs: a free loopback address, the run directory, the shared log,
    viva(*args) starting `viva-robot ARGS` as a process on this test's DDS domain, and learner(steps, *args)
    starting the tests' small pixel learner on the ROS backend (its goal PNG: the current frame)."""
    import socket

    from PIL import Image as PILImage

    goal = tmp_path / "goal.png"
    PILImage.fromarray(env.render()).save(goal)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        bind = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    run, log = tmp_path / "run", tmp_path / "split.log"

    def viva(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "viva_robot.cli", "-q", *args], stdout=open(log, "a"),
                                stderr=subprocess.STDOUT, env={**os.environ, "ROS_DOMAIN_ID": DOMAIN, "OMP_NUM_THREADS": "1"})

    def learner(steps: int, *args: str) -> subprocess.Popen:
        return viva("learner", "--backend", "ros", "--robot", str(ROBOT), "--goal-image", str(goal), "--obs",
                    "pixels+state", "--steps", str(steps), "--random-steps", "20", "--max-steps", "20", "--batch-size",
                    "8", "--hidden", "32", "32", "--checkpoint-every", "20", "--device", "cpu", "--bind", bind,
                    "--out", str(run), *args)
    return bind, run, log, viva, learner


def test_learner_and_actor_faults_over_dds_lose_nothing(env, procs, tmp_path):
    """Learner and actor as two processes beside the simulated robot and the supervisor. The learner stalled
    (SIGSTOP), then killed after a checkpoint: the actor sends no more targets (the arm holds) and waits; the
    learner resumed -> the actor sends what it lost. Then the actor killed and a new one started: the learner
    keeps its buffer and the new actor takes over. The run completes with every step held once."""
    from viva_robot.rl.train import load_train_checkpoint

    bind, run, log, viva, start_learner = split_run(env, tmp_path)

    def holding_after(t0: float) -> float:
        """When the actor next says it holds (monotonic), waiting for it."""
        n = log.read_text().count("holding the arm")
        env.link.wait_for(lambda: log.read_text().count("holding the arm") > n, 30.0, "the actor holding")
        return time.monotonic()

    learner = start_learner(80, "--actor-timeout-s", "2")
    actor = viva("actor", "--learner", bind, "--learner-timeout-s", "2")
    node, targets = env.link.node, []
    sub = node.create_subscription(PoseStamped, "/viva/target_pose", lambda m: targets.append(time.monotonic()), 10)
    try:
        env.link.wait_for(lambda: (run / "checkpoints" / "step_00000020.pt").exists(), 120.0, "a first checkpoint")
        learner.send_signal(signal.SIGSTOP)  # stalled
        held = holding_after(time.monotonic())
        time.sleep(1.0)
        assert not [t for t in targets if t > held + 0.2], "the actor sent targets while the learner was stalled"
        learner.send_signal(signal.SIGCONT)
        env.link.wait_for(lambda: "the learner answers again" in log.read_text(), 30.0, "the actor going on")
        env.link.wait_for(lambda: any(c.name > "step_00000020.pt" for c in (run / "checkpoints").glob("step_*.pt")),
                          120.0, "a second checkpoint")
        learner.kill()  # killed
        learner.wait()
        held = holding_after(time.monotonic())
        time.sleep(1.5)
        assert not [t for t in targets if t > held + 0.2], "the actor sent targets while the learner was gone"
        learner = viva("learner", "--resume", str(run))
        env.link.wait_for(lambda: log.read_text().count("the learner answers again") >= 2, 60.0, "the actor going on")
        time.sleep(1.0)
        actor.kill()  # the actor killed mid-episode; a new one takes over once the first is silent for 2 s
        actor.wait()
        actor = viva("actor", "--learner", bind, "--learner-timeout-s", "2")
        assert learner.wait(180) == 0, log.read_text()[-3000:]
        assert actor.wait(60) == 0, log.read_text()[-3000:]
    finally:
        node.destroy_subscription(sub)
        for p in (learner, actor):
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
    assert re.search(r"learner: actor \w+ silent for \d+\.\d s; actor \w+ takes over", log.read_text())
    progress = load_train_checkpoint(sorted((run / "checkpoints").glob("step_*.pt"))[-1])["progress"]
    # every step held once, in order; episodes cut short by a fault are kept as they were
    assert progress["step"] >= 80 and progress["updates"] == progress["step"] - 20
    lengths = [json.loads(line)["length"] for line in (run / "metrics.jsonl").read_text().splitlines()
               if json.loads(line)["kind"] == "episode"]
    assert lengths[0] == 20 and 0 <= progress["step"] - sum(lengths) < 20, lengths  # the killed actor's unfinished one


def test_a_killed_learner_holds_the_arm_and_a_resumed_one_loses_nothing(env, procs, tmp_path):
    """Learner and actor as two processes beside the simulated robot and the supervisor: the learner killed
    after a checkpoint -> the actor sends no more targets (the arm holds) and waits; the learner started again
    with --resume -> the actor sends what it lost and the run completes with every step, in order."""
    from viva_robot.rl.train import load_train_checkpoint

    bind, run, log, viva, start_learner = split_run(env, tmp_path)

    learner = start_learner(60)
    actor = viva("actor", "--learner", bind, "--learner-timeout-s", "2")
    node, targets = env.link.node, []
    sub = node.create_subscription(PoseStamped, "/viva/target_pose", lambda m: targets.append(time.monotonic()), 10)
    try:
        env.link.wait_for(lambda: (run / "checkpoints" / "step_00000020.pt").exists(), 120.0, "a first checkpoint")
        learner.kill()
        learner.wait()
        env.link.wait_for(lambda: "holding the arm" in log.read_text(), 30.0, "the actor holding")
        held = time.monotonic()
        time.sleep(1.5)
        assert not [t for t in targets if t > held + 0.2], "the actor sent targets while the learner was gone"
        learner = viva("learner", "--resume", str(run))
        assert learner.wait(180) == 0, log.read_text()[-3000:]
        assert actor.wait(60) == 0, log.read_text()[-3000:]
    finally:
        node.destroy_subscription(sub)
        for p in (learner, actor):
            if p.poll() is None:
                p.kill()
    progress = load_train_checkpoint(sorted((run / "checkpoints").glob("step_*.pt"))[-1])["progress"]
    # every step the actor took is held once, in order; the episode the learner's absence cut short is kept
    assert progress["step"] >= 60 and progress["received"] == progress["step"]
    assert progress["updates"] == progress["step"] - 20
    lengths = [json.loads(line)["length"] for line in (run / "metrics.jsonl").read_text().splitlines()
               if json.loads(line)["kind"] == "episode"]
    assert sum(lengths) == progress["step"] and lengths[0] == 20, lengths


def test_record_play_episodes_into_a_dataset(env, tmp_path):
    import threading

    from viva_robot.cli import main
    from viva_robot.data.dataset import VideoDataset

    env.reset()
    stop_driving = threading.Event()

    def drive():  # someone moves the arm (here: the env, as teleop would) while `record` listens
        rng = np.random.default_rng(0)
        while not stop_driving.is_set():
            env.step(rng.uniform(-1, 1, 4).astype(np.float32))

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        out = tmp_path / "play.zarr"
        assert main(["record", str(out), "--robot", str(ROBOT), "--episodes", "2", "--steps", "6", "-q"]) == 0
    finally:
        stop_driving.set()
        driver.join()
    ds = VideoDataset(out)
    assert ds.num_episodes == 2 and ds.num_frames == 12 and ds.source == "ros:sim-franka" and ds.fps == 10.0
    ep = ds.load_episode(1)
    assert ep.rgb.shape == (6, 64, 64, 3) and ep.state.shape == (6, 16) and ep.action.shape == (6, 7)
    limits = load_limits(LIMITS)
    assert (ep.action[:, :3] >= np.array(limits.workspace_min) - 1e-6).all()
    assert (ep.action[:, :3] <= np.array(limits.workspace_max) + 1e-6).all()
    assert ep.intervention.shape == (6,) and ep.label.shape == (6,)
    # a recording made before interventions and labels were stored is still appended to (without them)
    from viva_robot.data.dataset import DatasetWriter, Episode

    old = tmp_path / "old.zarr"
    DatasetWriter(old, source="ros:sim-franka", fps=10.0, resolution=(64, 64), state_dim=16, action_dim=7,
                  with_success=True).append(Episode(rgb=ep.rgb, key="old-000", state=ep.state, action=ep.action,
                                                    success=ep.success))
    assert main(["record", str(old), "--robot", str(ROBOT), "--episodes", "1", "--steps", "4", "-q"]) == 0
    ds = VideoDataset(old)
    assert ds.num_episodes == 2 and not ds.has("intervention") and ds.load_episode(1).intervention is None


def test_value_monitor_publishes_the_value_of_live_frames(env, tmp_path):
    import torch
    from PIL import Image as PILImage
    from sensor_msgs.msg import Image
    from std_msgs.msg import Float32

    from viva_robot.value.config import PretrainConfig
    from viva_robot.value.guide import ValueGuide
    from viva_robot.ros.messages import image_from_msg
    from viva_robot.value.checkpoint import save_checkpoint
    from viva_robot.value.networks import ICVF

    torch.manual_seed(0)
    value = save_checkpoint(tmp_path / "value.pt", step=0, model=ICVF("small", image_size=64),
                            config=PretrainConfig(out=tmp_path, data=(tmp_path / "x.zarr",), image_size=64, encoder="small"))
    goal = tmp_path / "goal.png"
    PILImage.fromarray(env.render()).save(goal)
    # success by threshold: with the threshold below any value, every frame counts as success
    monitor = start("monitor", f"value:={value}", f"goal_image:={goal}", "rate_hz:=5.0", "success_threshold:=-1000.0",
                    "success_topic:=/viva/value_success", log=tmp_path / "monitor.log")
    node, values, panels, flags = env.link.node, [], [], []
    subs = [node.create_subscription(Float32, "/viva/value", lambda m: values.append(m.data), 10),
            node.create_subscription(Image, "/viva/value/image", lambda m: panels.append(image_from_msg(m)), 10),
            node.create_subscription(Bool, "/viva/value_success", lambda m: flags.append(m.data), 10)]
    try:
        env.link.wait_for(lambda: len(panels) >= 3, 60.0, "value monitor output")
    finally:
        stop(monitor)
        for s in subs:
            node.destroy_subscription(s)
    assert panels[0].shape == (256, 512, 3) and flags and all(flags)
    guide = ValueGuide(value, 64, torch.device("cpu"))
    guide.set_goal(np.asarray(PILImage.open(goal).convert("RGB")))
    frame = np.ascontiguousarray(panels[1][::4, :256:4])  # the left half is the frame, scaled 4x
    assert min(abs(guide(frame) - v) for v in values) < 1e-4


STALL = {"image_topic": "/stall/image", "joint_states_topic": "/stall/joint_states", "ee_pose_topic": "/stall/pose",
         "target_topic": "/stall/target", "command_topic": "/stall/command", "status_topic": "/stall/status",
         "estop_topic": "/stall/estop", "release_service": "/stall/release", "success_topic": "/stall/success",
         "gripper_target_topic": "/stall/gripper", "gripper_command_topic": "/stall/gripper_command",
         "reset_service": "/stall/reset"}


def test_a_stalled_camera_node_is_held_within_one_control_period_and_a_restart_recovers(tmp_path):
    """Separate camera process (RealSense node replaying a dataset through librealsense's software device),
    robot without its own camera, supervisor, agent: SIGSTOP the camera -> hold; SIGCONT -> go on; kill and
    restart the camera -> the next reset works."""
    from viva_robot.data.dataset import DatasetWriter, Episode

    rng = np.random.default_rng(0)
    replay = tmp_path / "replay.zarr"
    DatasetWriter(replay, source="test:replay", fps=30.0, resolution=(48, 64)).append(
        Episode(rgb=rng.integers(0, 255, (30, 48, 64, 3), dtype=np.uint8), key="replay"))
    topics = [f"{k}:={v}" for k, v in STALL.items()]
    sup_topics = [t for t in topics if not t.startswith(("reset_service", "success_topic"))]
    log = tmp_path / "nodes.log"
    camera_args = (f"replay:={replay}", "fps:=30", f"image_topic:={STALL['image_topic']}", "info_topic:=/stall/info")
    procs = {"camera": start("camera", *camera_args, log=log),
             "sim": start("sim_robot", "publish_image:=false", *topics, log=log),
             "supervisor": start_supervisor(tmp_path, *sup_topics, log=log)}
    limits = load_limits(LIMITS)
    env = None
    try:
        robot_fields = {k: v for k, v in STALL.items() if k not in ("command_topic", "estop_topic", "release_service",
                                                                     "gripper_command_topic")}
        env = RosEnv(load_robot_config(ROBOT, {**robot_fields, "max_steps": 50, "connect_timeout_s": 60.0}))
        obs, _ = env.reset()
        assert obs["image"].shape == (64, 64, 3)  # 48x64 replay frames, center-cropped and resized
        wait_status(env, lambda s: s["state"] == "ok", 10.0)
        for _ in range(3):
            env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
        procs["camera"].send_signal(signal.SIGSTOP)
        stalled = time.monotonic()
        wait_status(env, lambda s: s["state"] == "hold" and "stale image" in s["reason"], 5.0)
        held_after = time.monotonic() - stalled
        before = position(env)
        *_, truncated, info = env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
        assert truncated and "no fresh camera frame on /stall/image" in info["fault"]
        time.sleep(0.3)
        assert np.linalg.norm(position(env) - before) < 0.01  # held: the arm did not follow the agent
        assert held_after <= limits.stale_after_s + 1.0 / env.cfg.control_hz + 0.3, held_after
        procs["camera"].send_signal(signal.SIGCONT)
        wait_status(env, lambda s: s["state"] == "ok", 5.0)
        procs["camera"].kill()
        procs["camera"].wait()
        wait_status(env, lambda s: s["state"] == "hold", 5.0)
        procs["camera"] = start("camera", *camera_args, log=log)
        obs, _ = env.reset()
        obs, _, _, truncated, info = env.step(np.zeros(4, np.float32))
        assert "fault" not in info and obs["image"].shape == (64, 64, 3)
    finally:
        if env is not None:
            env.close()
        for p in procs.values():
            stop(p)


def test_frames_with_the_wrong_encoding_or_size_are_refused_with_the_reason(env):
    from sensor_msgs.msg import Image

    from viva_robot.envs.ros import RobotLink
    from viva_robot.ros.messages import MessageError, image_from_msg

    mono = Image(height=4, width=4, encoding="mono8", step=4, data=bytes(16))
    with pytest.raises(MessageError, match=r"image encoding 'mono8' is not supported; expected 'rgb8' or 'bgr8'"):
        image_from_msg(mono)
    short = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(40))
    with pytest.raises(MessageError, match=r"image buffer has 40 bytes for 4x4 with step 12; expected step >= 12 and 48 bytes"):
        image_from_msg(short)
    bgr = Image(height=1, width=2, encoding="bgr8", step=6, data=bytes([1, 2, 3, 4, 5, 6]))
    assert image_from_msg(bgr).tolist() == [[[3, 2, 1], [6, 5, 4]]]
    # a live link fed only bad frames says so when it gives up waiting
    cfg = load_robot_config(ROBOT, {"image_topic": "/bad/image"})
    link = RobotLink(cfg, "viva_bad_frames")
    pub = env.link.node.create_publisher(Image, "/bad/image", qos_profile_sensor_data)
    try:
        deadline = time.monotonic() + 5.0
        while link.image_errors == 0 and time.monotonic() < deadline:
            pub.publish(mono)
            time.sleep(0.05)
        with pytest.raises(RobotError, match=r"no frame within 0.2 s; last bad frame: /bad/image: image encoding 'mono8'"):
            link.wait_for(lambda: link.image is not None, 0.2, "no frame")
    finally:
        env.link.node.destroy_publisher(pub)
        link.close()


def test_an_interrupted_recording_keeps_what_it_recorded(env, tmp_path):
    """Ctrl-C in the middle of the second episode: the first episode and the part of the second recorded so far
    are in the dataset, readable."""
    from viva_robot.data.dataset import VideoDataset

    out = tmp_path / "play.zarr"
    rec = subprocess.Popen(["viva-robot", "record", str(out), "--robot", str(ROBOT), "--episodes", "3", "--steps", "20"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "ROS_DOMAIN_ID": DOMAIN})
    deadline = time.monotonic() + 60
    while not (out / "meta").exists() or VideoDataset(out).num_episodes < 1:
        assert time.monotonic() < deadline and rec.poll() is None, rec.communicate()
        time.sleep(0.1)
    time.sleep(0.8)  # some frames into the second episode
    rec.send_signal(signal.SIGINT)
    _, err = rec.communicate(timeout=20)
    assert rec.returncode == 130 and "interrupted; completed episodes are kept" in err
    ds = VideoDataset(out)
    lengths = ds.episode_lengths()
    assert ds.num_episodes == 2 and lengths[0] == 20 and 2 <= lengths[1] < 20, lengths
    assert ds.load_episode(1).rgb.shape[1:] == (64, 64, 3)


def test_a_robot_config_that_is_missing_or_wrong_names_the_file_and_field(tmp_path):
    from viva_robot.config import ConfigError

    with pytest.raises(ConfigError, match=r"nope.yaml: robot config not found \(see configs/robot/\*.yaml\)"):
        load_robot_config(tmp_path / "nope.yaml")
    bad = tmp_path / "robot.yaml"
    bad.write_text(ROBOT.read_text() + "control_hz: -1\n")
    with pytest.raises(ConfigError, match=r"robot.yaml: invalid RobotConfig:\n  field 'control_hz': Input should be greater than 0"):
        load_robot_config(bad)
