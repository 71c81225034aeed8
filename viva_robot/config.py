"""Validated, frozen configs: one pydantic model per command; YAML presets in configs/; CLI flags override fields.

`load_config` is the only place configs are built: YAML preset (optional) -> flag overrides -> validation, once.
An unknown key, a wrong type or a bad value is an error that names the file and the field.

Size: every command's model is still here; moving each beside its code is issue 13 item 4's remaining part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from viva_robot.robot.topics import TOPICS


class ConfigError(ValueError):
    """A config file or flag is invalid; the message says which file, which field and what was expected."""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


C = TypeVar("C", bound=Config)
OnError = Literal["stop", "skip"]
ON_ERROR_HELP = "what to do with an unreadable source item: 'stop' (error naming the file) or 'skip' (log it and go on)"


class ImportEgo4DConfig(Config):
    """`viva-robot import ego4d`: Ego4D clips (mp4) -> viva dataset."""

    src: Path = Field(description="folder of Ego4D videos (*.mp4, searched recursively), e.g. <root>/v2/clips")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    size: int = Field(128, ge=8, le=1024, description="output frames are size x size: short side resized, center-cropped")
    fps: float = Field(5.0, gt=0, le=120, description="frames per second kept from each video")
    episode_seconds: float | None = Field(
        None, gt=0, description="split each video into windows of this many seconds; unset: one episode per video"
    )
    min_frames: int = Field(2, ge=2, description="drop episodes (windows, short clips) with fewer frames than this")
    manifest: Path | None = Field(
        None, description="ego4d.json manifest (video_uid, fps, start offsets); default: SRC/ego4d.json or SRC/../ego4d.json if present"
    )
    threads: int = Field(0, ge=0, description="decoder threads per video (0: FFmpeg picks)")
    on_error: OnError = Field("stop", description=ON_ERROR_HELP)


class ImportBridgeConfig(Config):
    """`viva-robot import bridge`: BridgeData V2 (raw JPEG release or numpy release) -> viva dataset."""

    src: Path = Field(description="BridgeData V2 raw folder (…/traj_groupK/trajN/images0) or numpy release (…/out.npy)")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    size: int = Field(128, ge=8, le=1024, description="output frames are size x size")
    camera: int = Field(0, ge=0, le=3, description="which camera folder to import (images0 .. images3)")
    resize: Literal["stretch", "crop"] = Field(
        "stretch", description="'stretch' 640x480 to a square as BridgeData's own numpy release does, or center 'crop'"
    )
    fps: float = Field(5.0, gt=0, description="recording rate stored in the dataset attributes (BridgeData V2: 5 Hz)")
    on_error: OnError = Field("stop", description=ON_ERROR_HELP)


class ImportLeRobotConfig(Config):
    """`viva-robot import lerobot`: a local LeRobotDataset (codebase v2.1 or v3.0: parquet + mp4) -> viva dataset."""

    src: Path = Field(description="LeRobot dataset folder (the one holding meta/info.json), e.g. a snapshot downloaded "
                                  "from the Hugging Face Hub")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    camera: str | None = Field(None, description="video feature to import, e.g. observation.images.top; "
                                                 "default: the first video feature in meta/info.json")
    fps: float = Field(5.0, gt=0, le=120, description="frames per second kept from each episode (at most the source's "
                                                      "rate), chosen by timestamp")
    size: int = Field(128, ge=8, le=1024, description="output frames are size x size: short side resized, center-cropped")
    threads: int = Field(0, ge=0, description="decoder threads per video (0: FFmpeg picks)")
    on_error: OnError = Field("stop", description=ON_ERROR_HELP)


# The one list of simulated task names (sim/tasks.py's TASKS holds each one's facts, and checks it has exactly these).
TASK_NAMES = ("door", "kitchen-microwave", "kitchen-slide-cabinet", "kitchen-hinge-cabinet", "kitchen-kettle",
              "kitchen-light-switch")
TaskName = Literal[TASK_NAMES]


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


class DatasetInfoConfig(Config):
    """`viva-robot dataset info`: episodes, frames, resolution, sources and size of a dataset."""

    path: Path = Field(description="dataset (.zarr folder)")
    as_json: bool = Field(False, description="print JSON instead of a table")


class DatasetShowConfig(Config):
    """`viva-robot dataset show`: a contact sheet of one episode's frames."""

    path: Path = Field(description="dataset (.zarr folder)")
    episode: int = Field(0, ge=0, description="episode index")
    out: Path = Field(Path("episode.png"), description="output PNG")
    frames: int = Field(16, ge=1, le=256, description="number of frames on the sheet, evenly spaced over the episode")
    video: Path | None = Field(None, description="also write the whole episode as an H.264 mp4 at the dataset's fps")
    video_scale: int = Field(4, ge=1, le=16, description="upscale factor for the mp4 (64x64 frames are tiny on screen)")


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
    method: Literal["tsai", "park", "horaud", "andreff", "daniilidis"] = Field("park", description="OpenCV hand-eye method")
    min_samples: int = Field(8, ge=3, description="fewest views with the board detected to accept "
                             "(15 or more, with orientations varied by 30 degrees or more, is better)")


class CalibrateWorkspaceConfig(Config):
    """`viva-robot calibrate workspace`: the safety supervisor's workspace box from recorded end-effector positions."""

    poses: Path = Field(description='JSON lines {"position": [x, y, z], "orientation": [x, y, z, w]} (robot base frame, m), '
                        "e.g. the arm jogged to the corners of the safe region")
    margin: float = Field(0.02, description="added to the box on every side (m); negative shrinks it")
    out: Path = Field(Path("calibration/workspace.yaml"), description="output YAML, the supervisor's limits file")


def load_config(model: type[C], preset: Path | None = None, overrides: dict[str, Any] | None = None, *,
                what: str = "", hint: str = "", error: type[Exception] = ConfigError) -> C:
    """The one YAML loader (command presets, robot, calibration and workspace files): preset (optional) + overrides
    -> validated `model`. Unknown keys and bad values raise `error` naming the file and every field at fault.

    what: how messages name the file ("camera intrinsics" -> "camera intrinsics file not found"; default: a config
    named by its model); hint: how to create a missing file."""
    values: dict[str, Any] = {}
    where = "command line"
    if preset is not None:
        where = str(preset)
        if not Path(preset).is_file():
            raise error(f"{preset}: {what or 'config'} file not found" + (f" ({hint})" if hint else ""))
        try:
            loaded = yaml.safe_load(Path(preset).read_text()) or {}
        except yaml.YAMLError as e:
            raise error(f"{preset}: not valid YAML ({e})") from None
        if not isinstance(loaded, dict):
            raise error(f"{preset}: expected a mapping of field: value, got {type(loaded).__name__}")
        values.update(loaded)
        where = f"{preset} (+ command line)" if overrides else str(preset)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(file)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown field '{field}' (valid: {', '.join(model.model_fields)})")
            else:
                problems.append(f"field '{field}': {err['msg']} (got {err.get('input')!r})")
        name = f"{what} file" if what else model.__name__
        raise error(f"{where}: invalid {name}:\n  " + "\n  ".join(problems)) from None


def resume_config(model: type[Config], run_dir: Path, overrides: dict, resumable: set[str]) -> Config:
    """The stored config of `run_dir`; only runtime fields (`resumable`, e.g. more `steps`) may be overridden."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no config.json)")
    stored = json.loads(path.read_text())
    try:
        changed = [k for k, v in overrides.items() if k not in resumable and k in stored
                   and json.loads(model.model_validate({**stored, k: v}).model_dump_json())[k] != stored[k]]
        if changed:
            raise ConfigError(f"{run_dir}: a resumed run keeps its config; cannot change {', '.join(changed)} "
                              f"(only {', '.join(sorted(resumable - {'resume'}))} may change)")
        # the run directory is where it is now (it may have moved, or `out` may be relative to another cwd)
        return model.model_validate({**stored, **overrides, "resume": str(run_dir), "out": str(run_dir)})
    except ValidationError as e:
        raise ConfigError(f"{run_dir}: invalid value for a resumed run: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None


def save_config(cfg: Config, path: Path) -> None:
    """Write the resolved config as JSON (atomic: temp file then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(cfg.to_json())
    tmp.replace(path)


class PretrainConfig(Config):
    """`viva-robot pretrain`: learn the intent-conditioned value V(s, g, z) (ICVF) from video datasets."""

    out: Path = Field(description="run directory (config, checkpoints, TensorBoard, plots); must not exist unless resuming")
    data: tuple[Path, ...] = Field(description="one or more viva datasets (.zarr) to learn from")
    data_weights: tuple[float, ...] | None = Field(
        None, description="sampling weight of each dataset (default: proportional to its number of frames)"
    )
    init: Path | None = Field(None, description="start from this checkpoint's weights (fine-tuning), e.g. an Ego4D run")
    resume: Path | None = Field(None, description="continue the run in this directory from its last checkpoint")
    # model
    encoder: Literal["small", "resnet18", "resnet50"] = Field("small", description="image encoder (resnet50 for GPU runs)")
    head: Literal["monolithic", "multilinear"] = Field("monolithic", description="value head form")
    ensemble: int = Field(2, ge=1, description="number of value heads on the shared encoder")
    hidden: tuple[int, ...] = Field((256, 256), description="hidden sizes of the head MLPs")
    image_size: int = Field(64, ge=16, description="frames are image_size x image_size")
    resize_frames: bool = Field(False, description="resize frames of other sizes to image_size when loading them")
    # objective
    gamma: float = Field(0.99, gt=0, lt=1, description="discount")
    expectile: float = Field(0.9, gt=0, lt=1, description="expectile tau of the advantage-weighted TD loss")
    target_tau: float = Field(0.005, gt=0, le=1, description="Polyak rate of the target network, every step")
    p_curr: float = Field(0.2, ge=0, description="goal = the current frame")
    p_traj: float = Field(0.5, ge=0, description="goal = a later frame of the same episode")
    p_rand: float = Field(0.3, ge=0, description="goal = a random frame of the dataset")
    p_samegoal: float = Field(0.5, ge=0, le=1, description="probability that the goal is the intent (g = z)")
    intent_same_episode: bool = Field(False, description="draw the intent from the frame's own episode: the frame itself with p_curr, else a later frame")
    crop_pad: int = Field(4, ge=0, description="random-crop augmentation: pad by this many pixels, crop back")
    # optimisation
    steps: int = Field(20_000, ge=1, description="gradient steps")
    batch_size: int = Field(256, ge=2, description="samples per step (per process under torchrun)")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate")
    adam_eps: float = Field(1e-8, gt=0, description="Adam epsilon (the ICVF vision runs used 3.125e-4 with lr 5e-5)")
    seed: int = Field(0, description="initialisation, held-out split and every batch derive from it")
    holdout_fraction: float = Field(0.1, ge=0, lt=1, description="share of each dataset's episodes kept for evaluation")
    drop_short_episodes: bool = Field(False, description="train without episodes of fewer than 2 frames instead of failing")
    # running
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")
    compile: bool = Field(True, description="torch.compile the encoder (a few seconds to start; ~10% faster steps on CPU, more on GPU)")
    bf16: bool = Field(True, description="bfloat16 autocast on CUDA (ignored on CPU)")
    ram_budget_gb: float = Field(8.0, gt=0, description="frames beyond this are streamed from disk in a rotating pool")
    log_every: int = Field(50, ge=1, description="steps between logged scalars")
    eval_every: int = Field(1000, ge=1, description="steps between temporal-order checks on held-out episodes")
    checkpoint_every: int = Field(1000, ge=1, description="steps between checkpoints")

    @model_validator(mode="after")
    def _check(self) -> "PretrainConfig":
        if self.data_weights is not None and len(self.data_weights) != len(self.data):
            raise ValueError(f"data_weights has {len(self.data_weights)} entries for {len(self.data)} datasets")
        if self.data_weights is not None and (min(self.data_weights) < 0 or sum(self.data_weights) <= 0):
            raise ValueError(f"data_weights must be non-negative with a positive sum, got {list(self.data_weights)}")
        if self.p_curr + self.p_traj + self.p_rand <= 0:
            raise ValueError("p_curr + p_traj + p_rand must be positive")
        return self


class ValueCheckConfig(Config):
    """`viva-robot value-check`: does the value rise toward the goal on held-out video? Plots and one number."""

    checkpoint: Path = Field(description="checkpoint (.pt) of a pretrain run")
    data: Path = Field(description="viva dataset (.zarr) to check on")
    out: Path = Field(Path("value-check"), description="folder for the plots and value_check.json")
    episodes: Literal["heldout", "all"] = Field(
        "heldout", description="heldout: the run's held-out episodes when DATA was one of its datasets, else all"
    )
    max_episodes: int = Field(50, ge=1, description="check at most this many episodes")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")


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
    utd: int = Field(1, ge=1, description="updates per environment step")
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
    prior_ratio: float = Field(0.5, ge=0, lt=1, description="share of each batch drawn from the prior dataset")
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


class EvalConfig(Config):
    """`viva-robot eval`: run a trained policy for N episodes; success rate, return, optional video."""

    run: Path = Field(description="run directory of `viva-robot train`")
    episodes: int = Field(10, ge=1, description="evaluation episodes")
    video: bool = Field(False, description="write an mp4 of the first episode with its value curve beside it")
    seed: int = Field(1_000_000, description="episode k resets with (seed, k); train-time evaluations use the same scheme")
    checkpoint: Path | None = Field(None, description="checkpoint to evaluate (default: the run's latest)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")
