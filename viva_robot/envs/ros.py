"""The ROS 2 env backend: the project's env interface (DESIGN.md §2) on a robot reached over topics.

Size: one env and the link that keeps its inputs (frames, pose, status, teleop, labels): the step's timing, the
interventions and the faults all read the same few fields, and apart they would pass them back and forth.

The env never talks to the arm directly: it sends pose targets to the safety supervisor's input topic, which
alone publishes on the controller's command topic. An action is (dx, dy, dz, gripper) in [-1, 1]: the target
moves by `action_scale_m` * (dx, dy, dz) from the previous target (from the measured position, a target would
ratchet down with every millimetre the arm sags under gravity), kept within `max_lead_m` of the measured position
so a blocked arm does not wind up; orientation is held at the home orientation; gripper -1 open .. 1 closed.
Timing (`command_timing`): "on_tick" (default) sends each command on the control clock and returns the first
frame that arrives after `obs_lead_s` before the next tick (a camera late past `act_budget_s` before the tick:
the newest frame since the command; none at all since then: it waits for one), so commands are evenly spaced
(jitter: the policy's time, not the camera's phase or a late frame) and every observation shows most of the
last command's motion; "on_frame" sends a
command as soon as the action is ready and returns the first frame after the tick (least frame-to-command
latency, periods jitter by up to one camera frame). Reward is the success topic
(1.0 while True). Faults end the episode rather than crash the run: no fresh frame within `stale_timeout_s`
truncates it with `info["fault"]` (the supervisor is already holding the arm), so the data so far is kept.

A human can take over at any step (HIL-SERL's interventions): while non-zero `geometry_msgs/Twist` messages keep
arriving on `teleop_topic` (teleop_twist_keyboard, a SpaceMouse through spacenav), their linear velocity (m/s,
base frame) replaces the policy's (dx, dy, dz) for that step, as an action in the policy's own units (clipped to
[-1, 1]); the gripper stays where it was. `info["intervention"]` marks the step, `info["action"]` is what was
executed (what the learner stores). Twists faster than `teleop_max_speed_m_s` or not finite are refused and
counted (`env.link.teleop_refused`); every intervention target still goes through the supervisor.
The operator marks a success with a True on `label_topic` (a key bound to `ros2 topic pub --once`): the step gets
`info["label"]`, and with `label_ends_episode` the episode ends there (terminated). The reward is 1 on a step the
detector (`success_topic`) or the operator calls a success; with no detector (`success_topic: ""`) the labels
alone.
Targets carry the stamp of the frame they were computed from; the supervisor refuses one older than its
`max_message_age_s` (an agent that thinks for longer than that between frames, e.g. pixel updates inline on a
CPU), and a refusal in its status ends the episode with the supervisor's reason: the arm did not follow.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import gymnasium as gym
import numpy as np
import rclpy
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec
from geometry_msgs.msg import PoseStamped, Twist
from PIL import Image as PILImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32, String
from std_srvs.srv import Trigger

from viva_robot.envs.checks import checked_action, checked_goal_image
from viva_robot.robot.config import RobotConfig, RobotError
from viva_robot.robot.geometry import valid_pose
from viva_robot.robot.safety import check_teleop
from viva_robot.ros.messages import MessageError, image_from_msg, pose_from_msg, pose_to_msg


REFUSED_TARGETS = ("target in another frame", "stale target stamp", "target stamp in the future")


def refused_targets(status: dict) -> int:
    """Targets the supervisor refused on their header so far (its status counts)."""
    return sum(status.get("counts", {}).get(k, 0) for k in REFUSED_TARGETS)


def fit_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """Center-crop to a square and resize to size x size (the value's and the agent's input)."""
    h, w = rgb.shape[:2]
    if (h, w) == (size, size):
        return rgb
    s = min(h, w)
    crop = rgb[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.asarray(PILImage.fromarray(crop).resize((size, size), PILImage.BILINEAR))


class RobotLink:
    """The latest camera frame, robot state, success flag and supervisor status, kept by a background executor."""

    def __init__(self, cfg: RobotConfig, name: str = "viva_env"):
        self.cfg = cfg
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        self.lock = threading.Lock()
        self.image: np.ndarray | None = None
        self.image_t = 0.0  # arrival time (time.monotonic) of the newest frame
        self.image_stamp = None  # its arrival on the ROS clock: targets computed from it carry this stamp
        self.image_errors = 0
        self.last_image_error = ""
        self.joints: np.ndarray | None = None
        self.pose: tuple[np.ndarray, np.ndarray] | None = None
        self.success = False
        self.status: dict = {}
        self.status_t = 0.0  # arrival (time.monotonic) of the newest supervisor status
        self.pose_t = 0.0  # arrival of the newest end-effector pose
        self.teleop: np.ndarray | None = None  # linear velocity of the newest non-zero usable twist (m/s)
        self.teleop_t = 0.0  # its arrival; a zero twist (keys released) ends the intervention at once
        self.teleop_refused: Counter[str] = Counter()
        self.labels = 0  # operator success labels received so far
        self.bad_poses = 0  # robot poses ignored: not finite, no orientation, or not in the base frame
        n = self.node
        n.create_subscription(Image, cfg.image_topic, self._on_image, qos_profile_sensor_data)
        n.create_subscription(JointState, cfg.joint_states_topic, self._on_joints, qos_profile_sensor_data)
        n.create_subscription(PoseStamped, cfg.ee_pose_topic, self._on_pose, qos_profile_sensor_data)
        if cfg.success_topic:
            n.create_subscription(Bool, cfg.success_topic, self._on_success, 10)
        n.create_subscription(Bool, cfg.label_topic, self._on_label, 10)
        n.create_subscription(Twist, cfg.teleop_topic, self._on_teleop, 10)
        n.create_subscription(String, cfg.status_topic, self._on_status, 10)
        self.target_pub = n.create_publisher(PoseStamped, cfg.target_topic, 10)
        self.gripper_pub = n.create_publisher(Float32, cfg.gripper_target_topic, 10)
        self.reset_client = n.create_client(Trigger, cfg.reset_service) if cfg.reset_service else None
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # the context was shut down under it by close()
            pass

    def _on_image(self, msg: Image) -> None:
        arrived = self.node.get_clock().now().to_msg()
        try:
            rgb = fit_image(image_from_msg(msg), self.cfg.image_size)
        except MessageError as e:
            self.image_errors += 1
            self.last_image_error = f"{self.cfg.image_topic}: {e}"
            return
        with self.lock:
            self.image, self.image_t, self.image_stamp = rgb, time.monotonic(), arrived

    def _on_joints(self, msg: JointState) -> None:
        with self.lock:
            self.joints = np.array(msg.position, np.float32)

    def _on_pose(self, msg: PoseStamped) -> None:
        pose = valid_pose(*pose_from_msg(msg))
        if pose is None or msg.header.frame_id != self.cfg.frame_id:  # never a NaN anchor, never another frame's
            with self.lock:
                self.bad_poses += 1
            return
        with self.lock:
            self.pose, self.pose_t = pose, time.monotonic()

    def _on_success(self, msg: Bool) -> None:
        self.success = bool(msg.data)

    def _on_label(self, msg: Bool) -> None:
        if msg.data:
            with self.lock:
                self.labels += 1

    def _on_teleop(self, msg: Twist) -> None:
        lin, ang = msg.linear, msg.angular
        linear = np.array([lin.x, lin.y, lin.z])
        bad = check_teleop(linear, [ang.x, ang.y, ang.z], self.cfg.teleop_max_speed_m_s)
        with self.lock:
            if bad is not None:
                self.teleop_refused[bad[0]] += 1
                self.teleop = None  # a refused twist never extends an intervention
            else:
                self.teleop, self.teleop_t = (linear if np.any(linear) else None), time.monotonic()

    def active_teleop(self) -> np.ndarray | None:
        """The operator's velocity while an intervention is on (a fresh non-zero twist), else None."""
        with self.lock:
            if self.teleop is not None and time.monotonic() - self.teleop_t <= self.cfg.teleop_timeout_s:
                return self.teleop.copy()
            return None

    def _on_status(self, msg: String) -> None:
        try:
            status = json.loads(msg.data)
        except json.JSONDecodeError:
            return
        with self.lock:
            self.status, self.status_t = status, time.monotonic()

    def send(self, position, orientation, gripper: float | None = None, stamp=None) -> None:
        """A target for the supervisor, stamped with the arrival of the frame it was computed from (default: now),
        which the supervisor keeps on the command: image-in to command-out latency is then measurable downstream."""
        stamp = stamp if stamp is not None else self.node.get_clock().now().to_msg()
        self.target_pub.publish(pose_to_msg(position, orientation, stamp, self.cfg.frame_id))
        if gripper is not None:
            self.gripper_pub.publish(Float32(data=float(gripper)))

    def wait_for(self, ready, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if time.monotonic() > deadline:
                detail = f"; last bad frame: {self.last_image_error}" if self.image_errors else ""
                raise RobotError(f"{what} within {timeout_s} s{detail}")
            time.sleep(0.005)

    def call_reset(self, timeout_s: float = 5.0) -> None:
        if not self.reset_client.wait_for_service(timeout_sec=timeout_s):
            raise RobotError(f"reset service {self.cfg.reset_service} is not available (is the simulated robot running?)")
        future = self.reset_client.call_async(Trigger.Request())
        self.wait_for(future.done, timeout_s, f"no answer from {self.cfg.reset_service}")
        if not future.result().success:
            raise RobotError(f"{self.cfg.reset_service} failed: {future.result().message}")

    def close(self) -> None:
        # Stop the spinning thread before destroying what it waits on: the other order can crash in rcl.
        self.executor.shutdown(timeout_sec=2.0)
        self.thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class RosEnv(gym.Env):
    """A robot over ROS 2 with image + state observations, success reward and a goal image."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, cfg: RobotConfig, goal_image: np.ndarray | None = None, render_mode: str | None = "rgb_array"):
        self.cfg = cfg
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": round(cfg.control_hz)}
        # A real scene is not reproducible from a seed: gymnasium's checker then skips its determinism checks.
        self.spec = EnvSpec("viva/RosRobot-v0", entry_point="viva_robot.envs.ros:RosEnv", nondeterministic=True)
        self.link = RobotLink(cfg)
        link = self.link
        try:
            link.wait_for(lambda: link.joints is not None and link.pose is not None, cfg.connect_timeout_s,
                          f"no robot state on {cfg.joint_states_topic} and {cfg.ee_pose_topic} (is the robot driver "
                          f"or the simulated robot running, on this ROS_DOMAIN_ID?)")
            link.wait_for(lambda: link.image is not None, cfg.connect_timeout_s,
                          f"no camera frame on {cfg.image_topic} (is the camera node running?)")
            link.wait_for(lambda: link.status_t > 0, cfg.connect_timeout_s,
                          f"no status from the safety supervisor on {cfg.status_topic} (the env only drives the arm "
                          f"through it: start viva-ros-supervisor)")
        except RobotError:
            link.close()
            raise
        s = cfg.image_size
        state_dim = 7 + len(link.joints)
        self.observation_space = spaces.Dict({
            "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
            "state": spaces.Box(-np.inf, np.inf, (state_dim,), np.float32),
        })
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.goal_image = None if goal_image is None else checked_goal_image(goal_image, s, "ros")
        self.home = (np.array(cfg.home_position, float), np.array(cfg.home_orientation, float))
        self._steps = 0
        self._target = self.home[0].copy()
        self._obs_stamp = None
        self._next_tick = time.monotonic()
        self._refused = refused_targets(link.status)
        self._gripper = -1.0  # open
        self._sent = 0.0
        self._labels = link.labels

    # -- the interface ---------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        cfg, link = self.cfg, self.link
        self._move_home()
        if link.reset_client is not None:
            link.call_reset()
        link.success = False  # the previous episode's flag; the next message on the success topic says otherwise
        self._refused = refused_targets(link.status)
        self._labels = link.labels  # a label pressed between episodes belongs to none
        t = time.monotonic()
        link.wait_for(lambda: link.image_t > t, cfg.stale_timeout_s * 5, f"no fresh camera frame on {cfg.image_topic}")
        self._steps = 0
        self._target = self.home[0].copy()
        self._gripper = -1.0  # reset opens it
        self._sent = 0.0  # when the last command left
        self._next_tick = time.monotonic() + 1.0 / cfg.control_hz
        return self._observation(), {"success": link.success}

    def step(self, action):
        action = checked_action(action, self.action_space.shape, "ros")
        cfg, link = self.cfg, self.link
        action = np.clip(action, -1.0, 1.0).astype(np.float32)
        teleop = link.active_teleop()
        if teleop is not None:  # the human drives: their velocity as this step's displacement, in action units
            action = np.array([*np.clip(teleop / (cfg.control_hz * cfg.action_scale_m), -1.0, 1.0), self._gripper],
                              np.float32)
        self._gripper = float(action[3])
        with link.lock:
            measured = link.pose[0].copy()
        lead = self._target + cfg.action_scale_m * action[:3] - measured
        self._target = measured + lead * min(1.0, cfg.max_lead_m / max(np.linalg.norm(lead), 1e-9))
        period = 1.0 / cfg.control_hz
        if cfg.command_timing == "on_tick":  # the command leaves on the control clock, never on the last one's heels
            now = time.monotonic()
            time.sleep(max(0.0, self._next_tick - now, self._sent + 0.9 * period - now))
        link.send(self._target, self.home[1], gripper=(float(action[3]) + 1.0) / 2.0, stamp=self._obs_stamp)
        sent = self._sent = time.monotonic()
        if cfg.command_timing == "on_tick":
            self._next_tick += period
            if self._next_tick < sent + 0.5 * period:  # late: a new schedule instead of catching up in a burst
                self._next_tick = sent + period
            # the frame to act on: the first one after obs_lead_s before the next tick, so the action is ready then
            look_from = max(sent, self._next_tick - cfg.obs_lead_s)
            time.sleep(max(0.0, look_from - time.monotonic()))
        else:
            # Wait for the tick, and at least half a period after this command: a step that ran late (a slow frame)
            # never makes the next command follow on its heels, which the supervisor's rate limit would reject.
            time.sleep(max(0.0, self._next_tick - sent, 0.5 * period - (time.monotonic() - sent)))
            look_from = time.monotonic()
            self._next_tick += period
            if self._next_tick < look_from + 0.5 * period:  # late: start a new schedule instead of catching up
                self._next_tick = look_from + period
        self._steps += 1
        try:  # the first frame after that point: the agent acts on a frame that just arrived, not one a period old
            if cfg.command_timing == "on_tick":  # ... or, if the camera is late, the newest one since the command
                deadline = self._next_tick - cfg.act_budget_s
                while link.image_t <= look_from and time.monotonic() < deadline:
                    time.sleep(0.002)
                look_from = min(look_from, sent)  # a frame after the command shows its motion under way
            link.wait_for(lambda: link.image_t > look_from, cfg.stale_timeout_s,
                          f"no fresh camera frame on {cfg.image_topic}")
        except RobotError as e:
            info = {"success": link.success, "label": False, "intervention": teleop is not None, "action": action}
            info["fault"] = f"{e}; the supervisor holds the arm (status: {link.status.get('state', 'unknown')})"
            return self._observation(), 0.0, False, True, info
        with link.lock:
            labelled, self._labels = link.labels > self._labels, link.labels
        detected = link.success if cfg.success_topic else False
        info = {"success": detected or labelled, "label": labelled, "intervention": teleop is not None, "action": action}
        fault = self._fault()
        if fault:  # the arm is not following the agent: end the episode rather than learn from steps that do nothing
            info["fault"] = fault
            return self._observation(), 0.0, False, True, info
        reward = float(detected or labelled)  # a success the operator saw counts even when the detector missed it
        terminated = labelled and cfg.label_ends_episode
        return self._observation(), reward, terminated, not terminated and self._steps >= cfg.max_steps, info

    def _fault(self) -> str:
        cfg, link, now = self.cfg, self.link, time.monotonic()
        if now - link.pose_t > cfg.stale_timeout_s:
            return f"no robot pose on {cfg.ee_pose_topic} for {now - link.pose_t:.1f} s"
        if now - link.status_t > max(cfg.stale_timeout_s, 2.0):
            return f"no status from the safety supervisor on {cfg.status_topic} (is it running?)"
        if link.status.get("state") != "ok":
            return f"supervisor {link.status.get('state')}: {link.status.get('reason', '')}"
        n = refused_targets(link.status)  # a restarted supervisor counts from 0 again
        refused, self._refused = n > self._refused, n
        if refused:
            return f"the supervisor refused a target: {link.status.get('refused', '')}"
        return ""

    def render(self) -> np.ndarray:
        with self.link.lock:
            return self.link.image.copy()

    def close(self) -> None:
        self.link.close()

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _observation(self) -> dict[str, np.ndarray]:
        link = self.link
        with link.lock:  # one consistent snapshot: frame, its stamp and the robot state
            self._obs_stamp, image, (p, q), joints = link.image_stamp, link.image.copy(), link.pose, link.joints
        state = np.concatenate([p, q, joints]).astype(np.float32)
        if state.shape != self.observation_space["state"].shape:
            raise RobotError(f"{self.cfg.joint_states_topic} now has {len(joints)} joints, it had "
                             f"{self.observation_space['state'].shape[0] - 7} when the env started")
        return {"image": image, "state": state}

    def _move_home(self) -> None:
        """Step toward home at the control rate through the supervisor (which limits each step)."""
        cfg, link = self.cfg, self.link
        deadline = time.monotonic() + cfg.reset_timeout_s
        while np.linalg.norm(link.pose[0] - self.home[0]) > cfg.home_tolerance_m:
            if time.monotonic() > deadline:
                st = link.status
                raise RobotError(f"end effector did not reach home {list(cfg.home_position)} within "
                                 f"{cfg.reset_timeout_s} s (at {np.round(link.pose[0], 3).tolist()}); supervisor: "
                                 f"{st.get('state', 'no status')} ({st.get('reason', '')})")
            link.send(*self.home, gripper=0.0)
            time.sleep(1.0 / cfg.control_hz)
