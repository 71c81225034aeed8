"""Validated, frozen configs: one pydantic model per command; YAML presets in configs/; CLI flags override fields.

`load_config` is the only place configs are built: YAML preset (optional) -> flag overrides -> validation, once.
An unknown key, a wrong type or a bad value is an error that names the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A config file or flag is invalid; the message says which file, which field and what was expected."""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


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


SimTask = Literal[
    "door",
    "kitchen-microwave",
    "kitchen-slide-cabinet",
    "kitchen-hinge-cabinet",
    "kitchen-kettle",
    "kitchen-light-switch",
]


class CollectConfig(Config):
    """`viva-robot collect`: render action-free play video from MuJoCo tasks."""

    env: SimTask = Field(description="simulated task whose scene is filmed")
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

    @model_validator(mode="after")
    def _noise(self) -> "CollectConfig":
        if not self.noise_levels or min(self.noise_levels) < 0:
            raise ValueError("noise_levels must be a non-empty list of non-negative numbers")
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


def load_config(model: type[Config], preset: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """YAML preset (optional) + overrides -> validated config. Unknown keys and bad values raise ConfigError."""
    values: dict[str, Any] = {}
    where = "command line"
    if preset is not None:
        where = str(preset)
        if not Path(preset).is_file():
            raise ConfigError(f"{preset}: config file not found")
        try:
            loaded = yaml.safe_load(Path(preset).read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{preset}: not valid YAML ({e})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{preset}: expected a mapping of field: value, got {type(loaded).__name__}")
        values.update(loaded)
        where = f"{preset} (+ command line)" if overrides else str(preset)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(config)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown field '{field}' (valid: {', '.join(model.model_fields)})")
            else:
                problems.append(f"field '{field}': {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"{where}: invalid {model.__name__}:\n  " + "\n  ".join(problems)) from None


def save_config(cfg: Config, path: Path) -> None:
    """Write the resolved config as JSON (atomic: temp file then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(cfg.to_json())
    tmp.replace(path)
