"""The real robot's configs: how the env backend reaches a robot over ROS 2 (topic names, control rate, action
scale, home pose), and the `viva-robot calibrate` commands' configs.

One YAML per robot set-up (configs/robot/sim-franka.yaml for the simulated robot node, real-franka.yaml for the
workstation); `viva-robot train/run/record --backend ros --robot FILE` load it once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from viva_robot.config import Config, ConfigError, load_config
from viva_robot.robot.topics import TOPICS

HandEyeMethod = Literal["tsai", "park", "horaud", "andreff", "daniilidis"]  # OpenCV's calibrateHandEye methods


class RobotError(RuntimeError):
    """The robot cannot be driven (no stream, home unreachable, reset service missing); says what to check."""


class RobotConfig(Config):
    """The ROS 2 robot the env drives (through the safety supervisor)."""

    image_topic: str = Field(TOPICS["image_topic"], description="camera frames (sensor_msgs/Image, rgb8 or bgr8)")
    joint_states_topic: str = Field(TOPICS["joint_states_topic"], description="robot joint states")
    ee_pose_topic: str = Field(TOPICS["ee_pose_topic"], description="measured end-effector pose, base frame")
    target_topic: str = Field(TOPICS["target_topic"], description="where the agent sends pose targets (the supervisor's input)")
    gripper_target_topic: str = Field(TOPICS["gripper_target_topic"], description="agent gripper command (0 open .. 1 closed)")
    success_topic: str = Field(TOPICS["success_topic"], description="std_msgs/Bool: task achieved, from a detector (or the value "
                               "monitor); empty: no detector, the operator's labels are the reward")
    label_topic: str = Field(TOPICS["label_topic"], description="std_msgs/Bool True: the operator marks this step a success "
                             "(recorded as data/label; the reward when success_topic is empty)")
    label_ends_episode: bool = Field(True, description="an operator's success label ends the episode (terminated)")
    teleop_topic: str = Field(TOPICS["teleop_topic"], description="geometry_msgs/Twist in the base frame (m/s): while "
                              "non-zero ones keep coming, they drive the arm instead of the policy (an intervention)")
    teleop_timeout_s: float = Field(0.3, gt=0, description="an intervention ends when no non-zero twist came for this long")
    teleop_max_speed_m_s: float = Field(0.3, gt=0, description="twists faster than this are refused and counted")
    status_topic: str = Field(TOPICS["status_topic"], description="the supervisor's status (shown when the arm does not move)")
    reset_service: str = Field("", description="std_srvs/Trigger called at each reset to put the scene back "
                               "(the simulated robot's /viva/sim/reset); empty on a real robot: the operator resets the scene")
    frame_id: str = Field("base", description="frame of the published targets")
    image_size: int = Field(64, ge=16, description="frames are center-cropped and resized to this (the value's input size)")
    control_hz: float = Field(10.0, gt=0, le=100, description="agent steps per second")
    command_timing: Literal["on_tick", "on_frame"] = Field("on_tick", description="on_tick: commands leave on the "
                                                          "control clock (even periods); on_frame: as soon as the action "
                                                          "is ready (least latency, periods jitter by a camera frame)")
    obs_lead_s: float = Field(0.05, ge=0, description="on_tick: the observation is the first frame after this long "
                              "before the next tick (more than one camera frame plus the policy's time)")
    act_budget_s: float = Field(0.02, ge=0, description="on_tick: a frame not there this long before the tick is not "
                                "waited for (the newest one since the command is used): the policy's time per step")
    action_scale_m: float = Field(0.02, gt=0, description="end-effector displacement for an action of 1.0 (m)")
    max_lead_m: float = Field(0.05, gt=0, description="the target stays within this distance of the measured position")
    home_position: tuple[float, float, float] = Field(description="end-effector position at reset, base frame (m)")
    home_orientation: tuple[float, float, float, float] = Field(description="end-effector orientation held during "
                                                                "episodes, quaternion x, y, z, w")
    home_tolerance_m: float = Field(0.02, gt=0, description="reset is done when the end effector is this close to home")
    reset_timeout_s: float = Field(30.0, gt=0, description="give up reaching home after this long (error with the supervisor's status)")
    stale_timeout_s: float = Field(1.0, gt=0, description="no fresh camera frame for this long ends the episode (kept) with a fault")
    connect_timeout_s: float = Field(10.0, gt=0, description="wait this long for the first frame and robot state")
    max_steps: int = Field(200, ge=1, description="steps per episode")


def load_robot_config(path: Path, overrides: dict | None = None) -> RobotConfig:
    """The YAML + overrides, validated like every other config (`load_config`: file, field, what was expected)."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: robot config not found (see configs/robot/*.yaml)")
    return load_config(RobotConfig, Path(path), overrides)


# -- `viva-robot calibrate` -------------------------------------------------------------------------------------
class CalibrateIntrinsicsConfig(Config):
    """`viva-robot calibrate intrinsics`: save the connected RealSense's factory color intrinsics."""

    out: Path = Field(Path("calibration/intrinsics.yaml"), description="output YAML")
    serial: str | None = Field(None, description="camera serial number (default: the first RealSense found)")
    width: int = Field(640, gt=0, description="color stream width; intrinsics hold for one resolution: use the robot's")
    height: int = Field(480, gt=0, description="color stream height")
    fps: int = Field(30, gt=0, description="color stream frame rate")


class CalibrateBoardConfig(Config):
    """`viva-robot calibrate board`: a printable ChArUco board (PNG) from its spec."""

    out: Path = Field(Path("board.png"), description="output PNG; print it at 100% scale, then measure a square")
    board: Path = Field(Path("calibration/board.yaml"), description="board spec: squares, square and marker size (m), "
                        "ArUco dictionary")
    dpi: int = Field(300, ge=72, le=2400, description="printer resolution stored in the PNG, so it prints at the spec's size")


class CalibrateHandEyeConfig(Config):
    """`viva-robot calibrate hand-eye`: the camera-to-base transform from views of a ChArUco board held by the gripper."""

    samples: Path = Field(description="folder of 000.png, 001.png, ... and poses.jsonl, whose line k is the gripper pose "
                          'for image k: {"position": [x, y, z], "orientation": [x, y, z, w]} (robot base frame, m)')
    intrinsics: Path = Field(Path("calibration/intrinsics.yaml"), description="intrinsics of the camera that took the images")
    board: Path = Field(Path("calibration/board.yaml"), description="spec of the board in the images")
    out: Path = Field(Path("calibration/camera_to_base.yaml"), description="output YAML")
    method: HandEyeMethod = Field("park", description="OpenCV hand-eye method")
    min_samples: int = Field(8, ge=3, description="fewest views with the board detected to accept "
                             "(15 or more, with orientations varied by 30 degrees or more, is better)")


class CalibrateWorkspaceConfig(Config):
    """`viva-robot calibrate workspace`: the safety supervisor's workspace box from recorded end-effector positions."""

    poses: Path = Field(description='JSON lines {"position": [x, y, z], "orientation": [x, y, z, w]} (robot base frame, m), '
                        "e.g. the arm jogged to the corners of the safe region")
    margin: float = Field(0.02, description="added to the box on every side (m); negative shrinks it")
    out: Path = Field(Path("calibration/workspace.yaml"), description="output YAML, the supervisor's limits file")
