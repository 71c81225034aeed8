"""The configs of the live-robot commands `viva-robot goal capture` and `viva-robot record` (no ROS imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from viva_robot.config import Config
from viva_robot.robot.topics import TOPICS


class GoalCaptureConfig(Config):
    """`viva-robot goal capture`: save the live camera's frame as the goal image (arrange the scene as "done" first)."""

    robot: Path = Field(Path("configs/robot/real-franka.yaml"), description="robot config YAML: camera topic and image size")
    out: Path = Field(Path("calibration/goal.png"), description="goal PNG to write (image_size x image_size)")


class RecordConfig(Config):
    """`viva-robot record`: record play or teleoperated episodes from the live robot into a viva dataset (Zarr)."""

    out: Path = Field(description="dataset to create or append to (.zarr)")
    backend: Literal["ros"] = Field("ros", description="where the episodes come from (the ROS 2 robot)")
    robot: Path = Field(Path("configs/robot/real-franka.yaml"), description="robot config YAML: topics, control rate, image size")
    episodes: int = Field(1, ge=1, description="episodes to record")
    steps: int = Field(200, ge=2, description="steps per episode, at the robot config's control_hz")
    command_topic: str = Field(TOPICS["command_topic"], description="the supervisor's command to the arm, stored as the action")
    language: str = Field("", description="task description stored with each episode")
