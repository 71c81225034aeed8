"""Acquisition on the live robot: the goal image (`viva-robot goal capture`) and play / teleoperation episodes
(`viva-robot record --backend ros`) in the project's Zarr dataset format, which is how the value is fine-tuned
on the robot's own scene (`viva-robot pretrain --init ... --data robot.zarr`).

Recording only listens: whoever moves the arm (a teleop device, a scripted play node, the agent) goes through
the supervisor as usual. At `control_hz` each step stores the newest frame, the measured state (end-effector
pose + joints, as the env backend observes it), the command the supervisor last sent to the arm (pose, 7
numbers: what the arm was asked to do), the success flag, whether a human was driving (an active teleop twist,
data/intervention) and whether the operator labelled the step a success (data/label). An episode is committed to the dataset when it
ends; Ctrl-C commits the episode in progress (if it has 2 frames or more) before stopping, so nothing recorded is
lost, and running the same command again appends further episodes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped
from PIL import Image as PILImage

from viva_robot.ros.config import GoalCaptureConfig, RecordConfig
from viva_robot.data.dataset import DatasetWriter, Episode
from viva_robot.robot.config import RobotError, load_robot_config
from viva_robot.envs.ros import RobotLink
from viva_robot.ros.messages import pose_from_msg


def capture_goal(cfg: GoalCaptureConfig) -> Path:
    """Save the newest camera frame (center-cropped, image_size) as the goal PNG."""
    robot = load_robot_config(cfg.robot)
    link = RobotLink(robot, "viva_goal_capture")
    try:
        t = time.monotonic()
        link.wait_for(lambda: link.image_t > t, robot.connect_timeout_s,
                      f"no camera frame on {robot.image_topic} (is the camera node running?)")
        with link.lock:
            frame = link.image.copy()
    finally:
        link.close()
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = cfg.out.with_suffix(".tmp.png")
    PILImage.fromarray(frame).save(tmp)
    tmp.replace(cfg.out)  # never a half-written goal
    return cfg.out


def record(cfg: RecordConfig, progress: bool = True) -> dict:
    robot = load_robot_config(cfg.robot)
    link = RobotLink(robot, "viva_record")
    command: list[np.ndarray | None] = [None]

    def on_command(msg: PoseStamped) -> None:
        command[0] = np.concatenate(pose_from_msg(msg)).astype(np.float32)

    link.node.create_subscription(PoseStamped, cfg.command_topic, on_command, 10)
    try:
        link.wait_for(lambda: link.image is not None and link.joints is not None and link.pose is not None,
                      robot.connect_timeout_s, f"no camera frame on {robot.image_topic} or robot state on "
                      f"{robot.joint_states_topic} / {robot.ee_pose_topic}")
        s = robot.image_size
        state_dim = 7 + len(link.joints)
        # recordings made before interventions and labels were stored are appended to without them
        flags = ("intervention", "label") if not cfg.out.exists() or (cfg.out / "data" / "intervention").exists() else ()
        writer = DatasetWriter(cfg.out, source=f"ros:{cfg.robot.stem}", fps=robot.control_hz, resolution=(s, s),
                               state_dim=state_dim, action_dim=7, with_success=True, flags=flags,
                               attrs={"robot_config": robot.to_dict()})
        first = writer.num_episodes
        for k in range(cfg.episodes):
            if link.reset_client is not None:
                link.call_reset()
            command[0] = None  # the previous episode's last command is not this one's first
            labels = link.labels  # one pressed before the episode belongs to none
            rows: list[tuple] = []  # one tuple per step, appended at once: Ctrl-C never leaves columns uneven
            stalled = ""
            try:
                next_tick = time.monotonic()
                for t in range(cfg.steps):
                    with link.lock:
                        p, q = link.pose
                        image_age = time.monotonic() - link.image_t
                        labelled, labels = link.labels > labels, link.labels
                        row = (link.image.copy(), np.concatenate([p, q, link.joints]).astype(np.float32),
                               command[0] if command[0] is not None else np.concatenate([p, q]).astype(np.float32),
                               link.success or labelled)
                    row = (*row, link.active_teleop() is not None, labelled)
                    if image_age > robot.stale_timeout_s:  # a stalled camera would store one frame over and over
                        stalled = f"camera stalled: no frame on {robot.image_topic} for {image_age:.1f} s"
                        break
                    rows.append(row)
                    next_tick += 1.0 / robot.control_hz
                    time.sleep(max(0.0, next_tick - time.monotonic()))
            except KeyboardInterrupt:
                if len(rows) >= 2:
                    _commit(writer, first + k, rows, cfg.language)
                raise
            if len(rows) >= 2:
                _commit(writer, first + k, rows, cfg.language)
            if stalled:
                raise RobotError(f"{stalled}; the {len(rows)} frames before it are kept as episode {first + k}"
                                 if len(rows) >= 2 else stalled)
            if progress:
                print(f"episode {first + k}: {len(rows)} frames, success {any(r[3] for r in rows)}")
        return {"dataset": str(cfg.out), "episodes": writer.num_episodes, "frames": writer.num_frames}
    finally:
        link.close()


def _commit(writer: DatasetWriter, index: int, rows: list[tuple], language: str) -> None:
    frames, states, actions, flags, interventions, labels = zip(*rows)
    both = "data/intervention" in writer.root
    writer.append(Episode(rgb=np.stack(frames), key=f"ros-{index:06d}-{time.strftime('%Y%m%dT%H%M%S')}",
                          state=np.stack(states), action=np.stack(actions), success=np.array(flags), language=language,
                          intervention=np.array(interventions) if both else None, label=np.array(labels) if both else None))
