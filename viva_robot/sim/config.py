"""The config of `viva-robot collect` (filming simulated play and attempts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from viva_robot.config import Config, TaskName


class CollectConfig(Config):
    """`viva-robot collect`: render action-free play video from MuJoCo tasks."""

    env: TaskName = Field(description="simulated task whose scene is filmed")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    episodes: int = Field(20, ge=1, description="number of episodes to record")
    size: int = Field(64, ge=16, le=512, description="frames are size x size, rendered at that resolution")
    seed: int = Field(0, description="episode k is generated from (seed, k) alone, so runs resume and reproduce exactly")
    max_steps: int | None = Field(None, ge=2, description="episode length cap (default: the task's own horizon)")
    frame_skip: int = Field(1, ge=1, description="record every n-th simulator step")
    scripted_fraction: float = Field(
        0.6, ge=0, le=1, description="share of episodes that are scripted goal-reaching attempts (the rest is undirected play)"
    )
    noise_levels: tuple[float, ...] = Field(
        (0.0, 0.05, 0.1, 0.2), description="Gaussian action noise std for scripted attempts, one picked per episode"
    )
    off_task: tuple[TaskName, ...] = Field(
        (), description="other tasks of the same scene whose scripted attempts are filmed too (off-task attempts, "
        "e.g. [kitchen-microwave, kitchen-light-switch] in the slide-cabinet scene)")
    off_task_fraction: float = Field(0.0, ge=0, le=1, description="share of episodes that are off-task attempts")
    failure_only: bool = Field(
        False, description="the task never succeeds in the dataset (RLPD's prior of failures; the paper's Kitchen "
        "regime): attempts at the task stop at a random point before success (stopped short, near misses), and "
        "every episode ends before its first success frame")

    @model_validator(mode="after")
    def _noise(self) -> "CollectConfig":
        if not self.noise_levels or min(self.noise_levels) < 0:
            raise ValueError("noise_levels must be a non-empty list of non-negative numbers")
        if self.scripted_fraction + self.off_task_fraction > 1 + 1e-9:
            raise ValueError(f"scripted_fraction {self.scripted_fraction:g} + off_task_fraction "
                             f"{self.off_task_fraction:g} exceed 1")
        if self.off_task_fraction > 0 and not self.off_task:
            raise ValueError("off_task_fraction > 0 needs off_task: the tasks whose attempts are filmed")
        if self.env in self.off_task:
            raise ValueError(f"off_task lists {self.env}, the task itself; attempts at it are scripted_fraction")
        scene = self.env.split("-")[0]
        if any(t.split("-")[0] != scene for t in self.off_task):
            raise ValueError(f"off_task must be tasks of the {self.env} scene: {', '.join(self.off_task)}")
        if self.max_steps is not None and self.frame_skip > self.max_steps // 2:
            raise ValueError(f"frame_skip {self.frame_skip} leaves fewer than 3 frames in {self.max_steps} steps")
        return self
