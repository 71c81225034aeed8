"""The configs of `viva-robot train`, `learner`, `actor`, `eval` and `run`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from viva_robot.config import TASK_NAMES, Config, TaskName

TrainMode = Literal["sparse", "viva", "critic-init", "viva+critic-init", "potential"]
ObsMode = Literal["state", "pixels", "pixels+state"]


class TrainConfig(Config):
    """`viva-robot train`: SAC on a sparse-reward task, guided by a frozen video-trained value (ViVa)."""

    backend: Literal["sim", "ros"] = Field("sim", description="sim: MuJoCo tasks (gymnasium-robotics); ros: the real arm over ROS 2")
    task: TaskName | None = Field(None, description="simulated task to learn (backend sim); its goal image is rendered "
                                 "with the task achieved")
    robot: Path | None = Field(None, description="robot config YAML for backend ros (configs/robot/*.yaml): topics, "
                               "control rate, home pose")
    out: Path = Field(description="run directory (config, checkpoints with the replay buffer, TensorBoard, eval videos); "
                                  "must not exist unless resuming")
    resume: Path | None = Field(None, description="continue the run in this directory from its last checkpoint")
    mode: TrainMode = Field("sparse", description="sparse: plain SAC; viva: reward r - 1 + viva_alpha * V(s', g*); "
                            "critic-init: critic image encoder from the value's encoder; viva+critic-init: both; "
                            "potential: r + potential_scale * (gamma V(s', g*) - V(s, g*))")
    value: Path | None = Field(None, description="value checkpoint (value.pt of a pretrain run); needed by every mode but "
                               "sparse, which only logs V(s', g*) when given one (reward unchanged)")
    goal_image: Path | None = Field(None, description="PNG of the goal (image_size x image_size RGB); default: the task's own, "
                                    "rendered with the task done")
    obs: ObsMode = Field("pixels+state", description="what the agent sees: state (robot + object state, simulator only), "
                         "pixels (camera image), pixels+state (image + robot state)")
    seed: int = Field(0, description="network init, exploration and episode resets derive from it")
    steps: int = Field(20_000, ge=1, description="environment steps")
    random_steps: int = Field(5000, ge=0, description="uniform random actions before the policy acts and learning starts")
    max_steps: int | None = Field(None, ge=2, description="episode length (default: the task's horizon)")
    # agent
    batch_size: int = Field(256, ge=2, description="transitions per update")
    utd: int = Field(1, ge=0, description="updates per environment step (0: collect without learning, a baseline)")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate of actor, critics and temperature")
    gamma: float = Field(0.99, gt=0, lt=1, description="discount")
    tau: float = Field(0.005, gt=0, le=1, description="Polyak rate of the target critics")
    hidden: tuple[int, ...] = Field((256, 256), description="hidden sizes of actor and critic MLPs")
    critics: int = Field(2, ge=1, description="critic ensemble size (min over members in the target)")
    init_temperature: float = Field(1.0, gt=0, description="SAC's entropy temperature at the start (learned from "
                                    "there; the paper's DrQ config: 0.1)")
    encoder: Literal["small", "resnet18", "resnet50"] = Field("small", description="image encoder (critic-init needs the value's)")
    image_size: int = Field(64, ge=16, description="camera frames are image_size x image_size (the value's size)")
    latent: int = Field(50, ge=1, description="image features are projected to this size (DrQ trunk)")
    shift_pad: int = Field(4, ge=0, description="random-shift augmentation of images by up to this many pixels")
    bf16: bool = Field(False, description="bfloat16 autocast for the agent's networks (fp32 weights and losses): ~1.4x "
                       "faster updates on CPUs with AVX512-BF16/AMX and on recent GPUs, slower on other CPUs")
    replay_capacity: int = Field(100_000, ge=2, description="transitions kept (images stored once, uint8)")
    prior: Path | None = Field(None, description="viva dataset with state and actions mixed 50/50 into every batch (RLPD style)")
    prior_ratio: float = Field(0.5, ge=0, lt=1, description="share of each batch drawn from the prior dataset (with a "
                               "separate actor: from the operator's interventions, once there are any)")
    # guidance
    viva_alpha: float = Field(0.001, ge=0, description="weight of V(s', g*) in the viva reward")
    potential_scale: float = Field(1.0, ge=0, description="weight of the potential-based shaping term")
    # running
    eval_every: int = Field(5000, ge=1, description="environment steps between evaluations (at the next episode end)")
    eval_episodes: int = Field(5, ge=1, description="episodes per evaluation (deterministic policy)")
    eval_video: bool = Field(True, description="write an mp4 of the first evaluation episode with its value curve")
    checkpoint_every: int = Field(5000, ge=1, description="environment steps between checkpoints (at the next episode end)")
    log_every: int = Field(1000, ge=1, description="environment steps between logged training scalars")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")
    threads: int = Field(0, ge=0, description="torch CPU threads (0: torch's default; 1 when running seeds side by side)")
    # actor and learner apart (`viva-robot learner` + `viva-robot actor`; `train --backend ros` starts both)
    bind: str = Field("tcp://127.0.0.1:5555", description="ZeroMQ address the learner listens on for its actor "
                      "(tcp://0.0.0.0:5555 for an actor on another machine; `train --backend ros` picks a free local port)")
    weights_every_s: float = Field(2.0, gt=0, description="seconds between the learner's weight updates to the actor")
    actor_timeout_s: float = Field(5.0, gt=0, description="an actor silent this long may be replaced by another one")

    @model_validator(mode="after")
    def _check(self) -> "TrainConfig":
        if self.backend == "sim" and self.task is None:
            raise ValueError(f"backend sim needs a task: one of {', '.join(TASK_NAMES)}")
        if self.backend == "ros":
            if self.robot is None:
                raise ValueError("backend ros needs --robot CONFIG.yaml (configs/robot/real-franka.yaml, or "
                                 "sim-franka.yaml for the simulated robot node)")
            if self.goal_image is None:
                raise ValueError("backend ros needs --goal-image PNG: capture one with `viva-robot goal capture`")
            if self.obs == "state" or self.prior is not None:
                raise ValueError("backend ros has no privileged object state or prior data yet: use obs pixels or "
                                 "pixels+state and no prior")
        if self.mode != "sparse" and self.value is None:
            raise ValueError(f"mode {self.mode!r} needs a value checkpoint: pass --value RUN/value.pt")
        if "critic-init" in self.mode and self.obs == "state":
            raise ValueError(f"mode {self.mode!r} initialises the critic's image encoder; use obs pixels or pixels+state")
        return self


class RunConfig(Config):
    """`viva-robot run`: a trained policy on a backend of your choice (the real arm: --backend ros); episodes and a video."""

    policy: Path = Field(description="run directory of `viva-robot train`")
    backend: Literal["sim", "ros"] = Field("ros", description="where to run it")
    robot: Path | None = Field(None, description="robot config YAML for backend ros (configs/robot/*.yaml)")
    goal_image: Path | None = Field(None, description="goal PNG (default: the one the policy was trained with)")
    episodes: int = Field(1, ge=1, description="episodes to run")
    video: bool = Field(True, description="write an mp4 of the first episode with its value curve beside it")
    seed: int = Field(1_000_000, description="episode k resets with (seed, k)")
    checkpoint: Path | None = Field(None, description="checkpoint to run (default: the run's latest)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")


class EvalConfig(Config):
    """`viva-robot eval`: run a trained policy for N episodes; success rate, return, optional video."""

    run: Path = Field(description="run directory of `viva-robot train`")
    episodes: int = Field(10, ge=1, description="evaluation episodes")
    video: bool = Field(False, description="write an mp4 of the first episode with its value curve beside it")
    seed: int = Field(1_000_000, description="episode k resets with (seed, k); train-time evaluations use the same scheme")
    checkpoint: Path | None = Field(None, description="checkpoint to evaluate (default: the run's latest)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")


class ActorConfig(Config):
    """`viva-robot actor`: act on the robot (or simulator) with the learner's newest weights and stream every step to it."""

    learner: str = Field("tcp://127.0.0.1:5555", description="the learner's ZeroMQ address (tcp://WORKSTATION:5555)")
    robot: Path | None = Field(None, description="robot config YAML on this machine (backend ros; default: the learner's path)")
    goal_image: Path | None = Field(None, description="goal PNG on this machine (default: the learner's path, or the task's own)")
    device: Literal["auto", "cpu", "cuda"] = Field("cpu", description="where the policy runs (one observation per step: cpu)")
    threads: int = Field(1, ge=0, description="torch CPU threads for the policy (0: torch's default)")
    learner_timeout_s: float = Field(10.0, gt=0, description="learner silent this long: stop acting, hold the arm and "
                                     "wait for it (its weights are that old at most)")
    connect_timeout_s: float = Field(120.0, gt=0, description="give up when no learner answers within this long")
    max_ahead_steps: int = Field(2000, ge=1, description="no new episode while more steps than this wait for the "
                                 "learner (a simulator outrunning it; bounds what the actor keeps in memory)")
